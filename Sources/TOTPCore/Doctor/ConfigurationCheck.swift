import Foundation

/// The daemon's configuration, read with the daemon's own loader so that its rules (a file only
/// root can change, strict keys) and its paths (state_directory, key_file, socket) apply here.
package struct ConfigurationCheck {
    let tree: HostTree
    /// As on the host; nil: /etc/totpd/totpd.conf, which may be missing.
    let path: String?

    package init(tree: HostTree, path: String?) {
        self.tree = tree
        self.path = path
    }

    /// The configuration the daemon would run with (its defaults where the file is refused).
    package func run() -> (DaemonConfiguration, [DoctorFinding]) {
        let file = tree.path(path ?? DaemonConfiguration.defaultConfigurationFile)
        // The daemon starts without the default file, but not without one it was given.
        guard path != nil || FileManager.default.fileExists(atPath: file) else { return (DaemonConfiguration(), []) }
        do {
            return (try ConfigurationFile.load(path: file, contents: try ConfigurationFile.contents(of: file)), [])
        } catch {
            let unsafe = error.remedy != nil
            return (
                DaemonConfiguration(),
                [
                    DoctorFinding(
                        id: unsafe ? "config.unsafe" : "config.invalid", severity: .error, subject: "configuration", location: error.location,
                        message: "totpd refuses to start with it: \(unsafe ? error.problem : error.explanation)",
                        fix: error.remedy?.command
                            ?? "correct it (config/totpd.conf documents every key), then check with: totpd --check-config --config \(file)")
                ]
            )
        }
    }
}
