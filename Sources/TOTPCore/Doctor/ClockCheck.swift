import CTOTPSystem
import Foundation

/// TOTP codes are the time: a clock 30 s off refuses right codes. Asks timedatectl, then
/// chronyc, then the kernel itself (which needs neither systemd nor any tool).
package struct ClockCheck {
    /// Beyond this many seconds the ±1 step window starts to refuse codes.
    static let tolerableOffset = 10.0

    package init() {}

    private static let fix = "install and enable a time service: apt-get install chrony (or systemd-timesyncd on a host run by systemd)"

    package func run() -> [DoctorFinding] {
        if let answer = HostCommand.run("/usr/bin/timedatectl", ["show", "-p", "NTPSynchronized", "--value"]), answer.status == 0 {
            let synchronised = answer.output.trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
            return synchronised ? chronyOffset() : [unsynchronised("timedatectl reports NTPSynchronized=no", fix: "timedatectl set-ntp true, or " + Self.fix)]
        }
        if let chrony = HostCommand.run("/usr/bin/chronyc", ["-n", "tracking"]), chrony.status == 0 {
            guard chrony.output.contains("Leap status     : Normal") else {
                return [unsynchronised("chronyc tracking: the clock is not synchronised", fix: "check chronyc sources: chrony reaches no time server")]
            }
            return chronyOffset()
        }
        var maxError = 0
        switch totpd_clock_synchronised(&maxError) {
        case 1: return []
        case 0:
            return [unsynchronised("the kernel marks the clock as not synchronised, and neither timedatectl nor chronyc answers", fix: Self.fix)]
        default:
            return [
                .skipped(
                    "clock.unknown", subject: "clock", because: "whether the clock is synchronised cannot be told: no timedatectl, no chronyc, and the kernel does not say",
                    fix: Self.fix)
            ]
        }
    }

    /// chrony's offset when it runs, which timedatectl does not show.
    private func chronyOffset() -> [DoctorFinding] {
        guard let chrony = HostCommand.run("/usr/bin/chronyc", ["-n", "tracking"]), chrony.status == 0,
            let line = chrony.output.split(separator: "\n").first(where: { $0.hasPrefix("System time") }),
            let seconds = line.split(separator: ":").last?.split(separator: " ").first.flatMap({ Double($0) }),
            seconds > Self.tolerableOffset
        else { return [] }
        return [unsynchronised("chronyc tracking: the clock is \(seconds) s off", fix: "wait for chrony to correct it, or step it now with chronyc makestep")]
    }

    private func unsynchronised(_ message: String, fix: String) -> DoctorFinding {
        DoctorFinding(
            id: "clock.unsynchronised", severity: .warning, subject: "clock",
            message: message + ": codes are refused once the clock drifts about 30 s", fix: fix)
    }
}
