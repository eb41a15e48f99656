import ArgumentParser
import TOTPCore

struct RotateKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Seal every secret again under a new store key, while logins go on (root).",
        discussion: """
            The daemon makes the new key durable beside the key file (.next), seals every secret
            again under it in small transactions, then renames it over the key file. Backups made
            before the rotation need the old key: keep it with them. An interrupted rotation is
            finished by the daemon's next start.
            Example: totpctl rotate-key
            """)

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        // A million secrets take about a minute; the daemon goes on if this command is stopped.
        let response = try await connection.call(.rotateKey, timeout: .minutes(30))
        print("Rotated the store key: \(response.u64(.count) ?? 0) sealed values re-sealed; the key is now \(response.string(.keyID) ?? "?").")
    }
}
