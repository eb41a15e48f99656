/// The release of totpd, totpctl and the protocol they speak.
package enum TOTPVersion {
    /// The one place the release is written; packaging/build-deb.sh reads it from here.
    package static let release = "0.1.0"
    package static let current = "\(release) (protocol \(WireProtocol.version))"
}
