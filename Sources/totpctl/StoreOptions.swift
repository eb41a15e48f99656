import ArgumentParser
import TOTPCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the store is, for the commands that work on its files (backup, restore): the
/// daemon's configuration file, as the daemon reads it, then the overrides.
struct StoreOptions: ParsableArguments {
    @Option(help: "The daemon's configuration file (default: /etc/totpd/totpd.conf, if present).")
    var config: String?
    @Option(name: .customLong("state-dir"), help: "The store's directory (overrides the configuration's).")
    var stateDirectory: String?
    @Option(name: .customLong("key-file"), help: "The store's key file (overrides the configuration's).")
    var keyFile: String?

    func configuration() throws -> DaemonConfiguration {
        guard geteuid() == 0 else { throw ValidationError("only root may read or replace the store's files") }
        var configuration = try DaemonConfiguration.load(from: config)
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let keyFile { configuration.keyFile = keyFile }
        return configuration
    }
}
