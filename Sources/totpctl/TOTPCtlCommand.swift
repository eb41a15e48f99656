import ArgumentParser
import TOTPCore

@main
struct TOTPCtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totpctl",
        abstract: "Enroll in and administer totpd, the TOTP second factor for logins.",
        version: TOTPVersion.current,
        subcommands: [
            Enroll.self, Confirm.self, Status.self, List.self, Revoke.self, Reset.self, Unlock.self, Log.self, RecoveryCodes.self,
            Resync.self, Backup.self, Restore.self, RotateKey.self, Metrics.self, Doctor.self,
        ])
}
