/// The release of totpd, totpctl and the protocol they speak.
package enum TOTPVersion {
    package static let current = "0.1.0 (protocol \(WireProtocol.version))"
}
