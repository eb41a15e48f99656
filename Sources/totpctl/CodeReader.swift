import ArgumentParser
import Foundation
import TOTPCore

/// Reads codes from the terminal without echo or, in scripts, one per line from standard input;
/// never from the command line, where the process list would show them.
enum CodeReader {
    /// A code as the daemon takes it; anything else is refused here, before it is sent.
    static func code(_ prompt: String) throws -> SubmittedCode {
        guard let code = SubmittedCode(try read(prompt)) else {
            throw ValidationError("that is not a code: give the 6 to 8 digits the app shows, or a recovery code")
        }
        return code
    }

    static func read(_ prompt: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true) else {
                throw ValidationError("expected a code on standard input (one per line)")
            }
            return line.trimmingCharacters(in: .whitespaces)
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        let echoOff = tcgetattr(STDIN_FILENO, &saved) == 0
        if echoOff {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if echoOff {
                _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        guard let line = readLine(strippingNewline: true) else { throw ValidationError("no code entered") }
        return line.trimmingCharacters(in: .whitespaces)
    }
}
