#if canImport(Glibc)
import Glibc
#endif

/// Structured logger: one JSON object per line (`time`, `level`, `event`, then the fields in
/// sorted order). The level is checked before the fields are built, so disabled levels cost
/// one comparison. Never pass a seed, token, API key or code as a field.
///
/// ```swift
/// let log = Logger(component: "gateway", minimumLevel: .info)
/// log.info("listening", ["address": "127.0.0.1:8080"])
/// // {"time":"2026-11-25T10:00:00.123Z","level":"info","event":"listening","component":"gateway","address":"127.0.0.1:8080"}
/// ```
public struct Logger: Sendable {
    /// Component name added to every line (`gateway`, `bot`, `seeds`...).
    public let component: String
    /// Lines below this level are dropped before they are built.
    public let minimumLevel: LogLevel
    /// Destination of the lines.
    public let sink: LogSink
    /// Clock for the `time` field (injected in tests).
    public let now: @Sendable () -> (seconds: Int64, nanoseconds: Int64)

    public init(
        component: String, minimumLevel: LogLevel = .info, sink: LogSink = .standardError,
        now: @escaping @Sendable () -> (seconds: Int64, nanoseconds: Int64) = Logger.wallClock
    ) {
        self.component = component
        self.minimumLevel = minimumLevel
        self.sink = sink
        self.now = now
    }

    /// The same logger under another component name.
    public func with(component: String) -> Logger {
        Logger(component: component, minimumLevel: minimumLevel, sink: sink, now: now)
    }

    public func debug(_ event: String, _ fields: @autoclosure () -> [String: LogValue] = [:]) {
        log(.debug, event, fields())
    }
    public func info(_ event: String, _ fields: @autoclosure () -> [String: LogValue] = [:]) {
        log(.info, event, fields())
    }
    public func warning(_ event: String, _ fields: @autoclosure () -> [String: LogValue] = [:]) {
        log(.warning, event, fields())
    }
    public func error(_ event: String, _ fields: @autoclosure () -> [String: LogValue] = [:]) {
        log(.error, event, fields())
    }

    /// Builds and writes a line if `level` is enabled.
    public func log(_ level: LogLevel, _ event: String, _ fields: @autoclosure () -> [String: LogValue]) {
        guard level >= minimumLevel else { return }
        sink.write(line: render(level: level, event: event, fields: fields()))
    }

    /// Renders one line without writing it (used by the audit log too).
    public func render(level: LogLevel, event: String, fields: [String: LogValue]) -> String {
        var out = "{\"time\":"
        let t = now()
        JSONText.appendString(Logger.iso8601(seconds: t.seconds, nanoseconds: t.nanoseconds), to: &out)
        out.append(",\"level\":\"\(level)\",\"event\":")
        JSONText.appendString(event, to: &out)
        out.append(",\"component\":")
        JSONText.appendString(component, to: &out)
        for key in fields.keys.sorted() where key != "time" && key != "level" && key != "event" && key != "component" {
            out.append(",")
            JSONText.appendString(key, to: &out)
            out.append(":")
            fields[key]!.appendJSON(to: &out)
        }
        out.append("}")
        return out
    }

    /// `CLOCK_REALTIME` as seconds and nanoseconds.
    public static let wallClock: @Sendable () -> (seconds: Int64, nanoseconds: Int64) = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), Int64(ts.tv_nsec))
    }

    /// `2026-11-25T10:00:00.123Z` (UTC, milliseconds).
    public static func iso8601(seconds: Int64, nanoseconds: Int64) -> String {
        UTCTimestamp.string(seconds: seconds, nanoseconds: nanoseconds)
    }
}
