#if canImport(Glibc)
import Glibc
#endif

/// Messages for the person at the terminal (usage errors, refused settings, why the process
/// exits), each one whole line written at once to stderr, where the JSON log lines go too.
///
/// ```swift
/// StandardError.print("totp-gateway: configuration refused:\n\(error)")
/// ```
public enum StandardError {
    public static func print(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
