import Synchronization

/// Renders `2026-11-25T10:00:00.123Z` into a byte buffer, formatting the date and time part once
/// per second (audit lines are written per request; `gmtime_r` per line is measurable).
///
/// ```swift
/// var out: [UInt8] = []
/// TimestampCache().append(seconds: 1_764_064_800, nanoseconds: 5_000_000, to: &out)   // "2025-11-25T10:00:00.005Z"
/// ```
public final class TimestampCache: Sendable {
    private let cached = Mutex<(seconds: Int64, prefix: [UInt8])>((-1, []))

    public init() {}

    /// An upper bound on the bytes `write` produces.
    public static let maxLength = 32  // 24 up to year 9999

    public func append(seconds: Int64, nanoseconds: Int64, to out: inout [UInt8]) {
        out.append(writingAtMost: Self.maxLength) { write(seconds: seconds, nanoseconds: nanoseconds, to: &$0) }
    }

    public func write(seconds: Int64, nanoseconds: Int64, to out: inout ByteWriter) {
        let prefix = cached.withLock { c -> [UInt8] in
            if c.seconds != seconds {
                // "YYYY-MM-DDTHH:MM:SS." from the full rendering, without the milliseconds and "Z".
                c = (seconds, Array(Logger.iso8601(seconds: seconds, nanoseconds: 0).utf8.dropLast(4)))
            }
            return c.prefix
        }
        out.write(bytes: prefix)
        let ms = Int(nanoseconds / 1_000_000)
        out.write(byte: UInt8(48 + ms / 100))
        out.write(byte: UInt8(48 + ms / 10 % 10))
        out.write(byte: UInt8(48 + ms % 10))
        out.write(byte: UInt8(ascii: "Z"))
    }
}
