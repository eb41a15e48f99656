// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "totpd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "totpd", targets: ["totpd"]),
        .executable(name: "totpctl", targets: ["totpctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .target(
            name: "TOTPCore",
            dependencies: [
                "CTOTPSystem",
                "CQRencode",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(name: "CTOTPSystem"),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .executableTarget(
            name: "totpd",
            dependencies: [
                "TOTPCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "totpctl",
            dependencies: [
                "TOTPCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The PAM module's sources, compiled here only so tests can check the wire constants;
        // the shipped pam_totpd.so is built by the Makefile with cc (no Swift runtime in sshd).
        .target(
            name: "pam_totpd",
            path: "Sources/pam_totpd",
            exclude: ["pam_totpd.map"],
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("pam")]
        ),
        // make bench: the framework's share of a connection (beside bench/floor_server.c).
        .executableTarget(
            name: "bench-nio-floor",
            dependencies: [
                "CTOTPSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "bench/nio-floor"
        ),
        .testTarget(
            name: "TOTPCoreTests",
            dependencies: ["TOTPCore", "pam_totpd"]
        ),
    ]
)

// make test-fuzz: the libFuzzer targets of the frame decoder, the request parser and the
// configuration loader. Declared only for that build: they link only with -sanitize=fuzzer.
if Context.environment["TOTPD_FUZZ"] != nil {
    package.targets.append(
        .executableTarget(
            name: "totpd-fuzz",
            dependencies: ["TOTPCore", .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Tests/fuzz/swift"
        ))
}
