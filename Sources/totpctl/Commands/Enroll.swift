import ArgumentParser
import Foundation
import TOTPCore

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an enrollment: get a new secret for your authenticator app.",
        discussion: """
            On a terminal: draws the QR code, asks for the code the app then shows and prints the
            recovery codes.
              totpctl enroll
            In scripts: two steps, the code on standard input.
              totpctl enroll --json
              oathtool --totp -b "$SECRET" | totpctl confirm
            To replace your own active enrollment (a new phone), prove you hold it:
              totpctl enroll --replace            (asks for a current code or a recovery code)
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Flag(help: "Replace your active enrollment: asks for a current code or a recovery code first.")
    var replace = false
    @Option(help: "How to draw the QR code: utf8 (dark terminals), ansi, ansi-inverse, or none.")
    var qr: QRChoice = .utf8
    @Flag(help: "Print one JSON object (user, secret, uri, expires) for scripts.")
    var json = false

    enum QRChoice: String, ExpressibleByArgument, CaseIterable {
        case utf8, ansi, ansiInverse = "ansi-inverse", none

        var style: QRRenderer.Style? { QRRenderer.Style(rawValue: rawValue) }
    }

    func run() async throws {
        let named = try account.resolvedUser()
        let proof = replace ? try CodeReader.code("A current code or a recovery code: ") : nil
        let response = try await connection.call(.enrollBegin(user: named, proof: proof))
        // The account as the directory spells it: the daemon keys everything on that.
        let user = response.string(.user) ?? named
        guard let secret = response.string(.secret), let uri = response.string(.uri),
            let expires = OutputFormat.timestamp(response.u64(.expiresAt).map { Int64(clamping: $0) })
        else { throw ValidationError("the daemon's answer lacks enrollment fields") }
        if json {
            print(try OutputFormat.json(["user": user, "secret": secret, "uri": uri, "expires": expires]))
        } else {
            if let style = qr.style {
                let code = try QRCode(encoding: uri)
                print("Scan this QR code with your authenticator app:\n")
                print(QRRenderer.render(code, style: style) + "\n")
                if let columns = TerminalSize.columns(), columns < QRRenderer.width(of: code, style: style) {
                    print("Warning: the terminal is \(columns) columns wide, the QR code needs "
                        + "\(QRRenderer.width(of: code, style: style)); widen it or type the secret below.\n")
                }
            }
            print("""
                Or add the account by hand:
                  URI:    \(uri)
                  Secret: \(OutputFormat.grouped(secret))
                """)
            guard isatty(STDIN_FILENO) == 1 else {
                print("Then confirm before \(expires) with a code from the app: totpctl confirm")
                return
            }
            try await confirmInteractively(user: user, digits: Self.digits(in: uri))
        }
    }

    static let attempts = 3

    /// Asks for the code on the terminal until it is right or the attempts are used up, then
    /// shows the recovery codes.
    private func confirmInteractively(user: String, digits: Int) async throws {
        for attempt in 1...Self.attempts {
            let typed = SubmittedCode(try CodeReader.read("Enter the \(digits)-digit code from your app: "))
            do {
                guard let typed, typed.digits != nil else { throw DaemonRefusal(result: .rejected) }
                let response = try await connection.call(.enrollConfirm(user: user, code: typed))
                print("\n\(user) is enrolled.\n\n" + OutputFormat.recoveryCodes(response.recoveryCodes))
                return
            } catch let refusal as DaemonRefusal where refusal.result == .rejected || refusal.result == .notEnrolled {
                // The daemon voids the enrollment after the last wrong code it allows.
                if refusal.result == .notEnrolled && attempt < Self.attempts { throw refusal }
                let left = Self.attempts - attempt
                print(left > 0
                    ? "That code is not right (check the app shows this account). \(left) more attempt\(left == 1 ? "" : "s")."
                    : "That code is not right either.")
            }
        }
        throw ValidationError("not enrolled: no right code after \(Self.attempts) attempts; run totpctl enroll again")
    }

    /// The digits the app will show: the URI says when it is not 6.
    static func digits(in uri: String) -> Int {
        uri.split(separator: "&").first { $0.hasPrefix("digits=") }.flatMap { Int($0.dropFirst("digits=".count)) } ?? 6
    }
}
