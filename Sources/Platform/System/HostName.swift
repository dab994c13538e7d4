#if canImport(Glibc)
import Glibc
#endif

/// This machine's host name (`gethostname`), for instance names and leader records.
///
/// ```swift
/// let instance = HostName.current ?? "gateway"
/// ```
public enum HostName {
    /// The host name, or nil when it cannot be read or is empty.
    public static var current: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        // One byte short of the buffer: a name that fills it may come back unterminated.
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(cString: buffer)
        return name.isEmpty ? nil : name
    }
}
