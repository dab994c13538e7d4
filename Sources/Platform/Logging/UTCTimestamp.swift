/// `2026-11-25T10:00:00.123Z` from unix seconds and nanoseconds, computed arithmetically
/// (days to a civil date, Howard Hinnant's algorithm): no `gmtime_r`, no cache and no lock, so
/// every event-loop thread formats its own audit lines without touching shared state.
///
/// ```swift
/// UTCTimestamp.string(seconds: 1_764_064_800, nanoseconds: 5_000_000)   // "2025-11-25T10:00:00.005Z"
/// var out: [UInt8] = []
/// out.append(expectedCount: UTCTimestamp.maxLength) { UTCTimestamp.write(seconds: 0, nanoseconds: 0, to: &$0) }
/// ```
public enum UTCTimestamp {
    /// An upper bound on the bytes `write` produces: 24 up to year 9999, 33 for the most distant
    /// years an `Int64` of seconds reaches (a sign and 12 digits).
    public static let maxLength = 33

    /// The civil date of a day number (days since 1970-01-01), proleptic Gregorian.
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func write(seconds: Int64, nanoseconds: Int64, to out: inout ByteWriter) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(days: days)
        let ms = max(0, min(999, nanoseconds / 1_000_000))
        // One size check for the whole timestamp; every byte below is a plain store.
        out.write(atMost: maxLength) { p in
            @inline(__always) func digit(_ v: Int64) -> UInt8 { UInt8(truncatingIfNeeded: 0x30 + v) }
            var i = 0
            @inline(__always) func put(_ byte: UInt8) {
                p[i] = byte
                i += 1
            }
            @inline(__always) func two(_ v: Int64) {
                put(digit(v / 10))
                put(digit(v % 10))
            }
            if year >= 0 && year <= 9999 {
                two(year / 100)
                two(year % 100)
            } else {
                // Outside 0...9999: as many digits as it takes, and a sign before the era.
                if year < 0 { put(UInt8(ascii: "-")) }
                var magnitude = year.magnitude
                var digits = 1
                while digits < 20 && magnitude >= power(digits) { digits += 1 }
                i += digits
                var at = i
                repeat {
                    at -= 1
                    p[at] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
                    magnitude /= 10
                } while magnitude > 0
            }
            put(UInt8(ascii: "-"))
            two(month)
            put(UInt8(ascii: "-"))
            two(day)
            put(UInt8(ascii: "T"))
            two(secondOfDay / 3600)
            put(UInt8(ascii: ":"))
            two(secondOfDay / 60 % 60)
            put(UInt8(ascii: ":"))
            two(secondOfDay % 60)
            put(UInt8(ascii: "."))
            put(digit(ms / 100))
            two(ms % 100)
            put(UInt8(ascii: "Z"))
            return i
        }
    }

    /// 10 to the power `n` (n < 20).
    private static func power(_ n: Int) -> UInt64 {
        var value: UInt64 = 1
        for _ in 0..<n { value *= 10 }
        return value
    }

    public static func string(seconds: Int64, nanoseconds: Int64) -> String {
        String(decoding: [UInt8](expectedCount: maxLength) { write(seconds: seconds, nanoseconds: nanoseconds, to: &$0) }, as: UTF8.self)
    }
}
