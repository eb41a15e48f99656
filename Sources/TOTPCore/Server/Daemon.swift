import Logging
import NIOCore

/// Wires the daemon together. The executable and the tests both call this, so tests run
/// exactly the production wiring with their own clock and paths.
package enum Daemon {
    /// The store, its files checked and its housekeeping done, as the daemon and `--import-oath` use it.
    package static func openStore(
        configuration: DaemonConfiguration, clock: any WallClock = SystemWallClock(), logger: Logger,
        metrics: DaemonMetrics? = nil
    ) async throws -> (Store, LogLimiter) {
        try prepareLocations(configuration)
        for suffix in ["-wal", "-shm"] {
            try PrivateFiles.checkFileIfPresent(configuration.databasePath + suffix, what: "database file")
        }
        try PrivateFiles.preparePrivateFile(configuration.databasePath, what: "database file")
        let keys = try StoreKeyring(path: configuration.keyFilePath)
        let logLimiter = LogLimiter(logger: logger)
        let store = try Store(
            path: configuration.databasePath, keys: keys, window: configuration.window, throttle: configuration.throttle,
            retention: configuration.auditRetention, logger: logger, logLimiter: logLimiter
        ) { user, seconds in
            metrics?.recordLockout()
            logger.warning(
                "user locked out",
                metadata: ["user": "\(user)", "locked_for": "\(seconds.map { "\($0)s" } ?? "until unlock")"])
        }
        try await store.maintain(now: clock.unixTime(), force: true)
        if !SpaceReserve.keepsBlocksForRoot(configuration.stateDirectory) {
            logger.warning(
                "the state directory's filesystem keeps no blocks for root: if users can write to it, they can fill it and make verifications fail",
                metadata: ["directory": "\(configuration.stateDirectory)"])
        }
        if !store.reserve.isHeld {
            logger.warning("no room for the space reserve that keeps root logins working on a full disk", metadata: ["reserve": "\(store.reserve.path)"])
        }
        return (store, logLimiter)
    }

    /// The state directory made and checked, and the key file's directories checked, before
    /// anything (the lock, the database) is created in them.
    private static func prepareLocations(_ configuration: DaemonConfiguration) throws {
        try PrivateFiles.prepareDirectory(configuration.stateDirectory)
        try TrustedPath.checkDirectories(above: configuration.keyFilePath, what: "directory above the key file")
    }

    /// `directory`: nil for NSS through a `LookupPool`.
    package static func makeServer(
        configuration: DaemonConfiguration, clock: any WallClock = SystemWallClock(), directory: (any AccountDirectory)? = nil,
        logger: Logger
    ) async throws -> Server {
        try prepareLocations(configuration)
        let instanceLock = try InstanceLock.acquire(stateDirectory: configuration.stateDirectory)
        let metrics = DaemonMetrics(startTime: clock.unixTime())
        let (store, logLimiter) = try await openStore(configuration: configuration, clock: clock, logger: logger, metrics: metrics)
        // Only the daemon, which holds the instance lock, finishes a rotation: an import may run beside it.
        // One row that opens with neither key must not take every login down: the daemon serves
        // with both keys loaded and says what failed.
        if store.sealer.keyring.isRotating {
            logger.warning("finishing a key rotation that was interrupted", metadata: ["key_file": "\(configuration.keyFilePath)"])
            do {
                let rotation = try await store.rotateKey(now: clock.unixTime(), source: AuditSource(caller: .thisProcess))
                logger.notice("store key rotated", metadata: ["key": "\(rotation.newKey)", "resealed": "\(rotation.resealed)"])
            } catch {
                logger.error("the interrupted key rotation could not be finished; serving with both keys", metadata: ["error": "\(error)"])
            }
        }
        logger.notice("store ready", metadata: ["path": "\(configuration.databasePath)"])
        let handler = RequestHandler(
            store: store, configuration: configuration, directory: directory ?? SystemAccountDirectory(pool: LookupPool()),
            clock: clock, logger: logger, logLimiter: logLimiter, metrics: metrics)
        // Under socket activation systemd owns the sockets (root's only if totpd-root.socket is
        // installed); otherwise the daemon binds both.
        let inherited = try SystemdIntegration.inheritedListeners()
        let listeners: [(Server.Listener, Server.Audience)] =
            inherited.isEmpty
            ? [(.path(configuration.socketPath), .everyone), (.path(configuration.rootSocketPath), .root)]
            : [(.inherited(inherited["public"]!), .everyone)] + (inherited["root"].map { [(.inherited($0), .root)] } ?? [])
        return Server(
            listeners: listeners, handler: handler, logger: logger,
            requestDeadline: .milliseconds(configuration.requestTimeoutMilliseconds),
            limiter: ConnectionLimiter(
                maxTotal: configuration.maxConnections, maxPerUID: configuration.maxConnectionsPerUID),
            logLimiter: logLimiter, clock: clock, instanceLock: instanceLock)
    }
}
