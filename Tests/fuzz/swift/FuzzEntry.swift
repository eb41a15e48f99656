/// The daemon's libFuzzer targets in one executable: `totpd-fuzz TARGET [libFuzzer options]`.
/// It is declared and built only by `make test-fuzz` (TOTPD_FUZZ=1, -sanitize=fuzzer,address).
/// SwiftPM links an executable's entry point under the module's name, not as `main`, so this
/// is that entry point and it hands libFuzzer its loop through LLVMFuzzerRunDriver.

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// libFuzzer calls back through a C function pointer, which cannot capture the chosen target.
nonisolated(unsafe) private var chosen: FuzzTarget?

/// Linked against by libFuzzer's archive; every run goes through `runDriver` with this callback.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    chosen?.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_cdecl("totpd_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    guard argc >= 2, let name = argv[1].map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        print("usage: totpd-fuzz TARGET [libFuzzer options]; targets: \(names)")
        return 2
    }
    chosen = target
    // libFuzzer reads its options from argv[1...]: the target's name goes, the program's stays.
    argv[1] = argv[0]
    var count = argc - 1
    var rest: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv + 1
    return runDriver(&count, &rest, fuzzOneInput)
}
