/// Cuts a byte stream into newline-terminated lines (a streamed etcd answer is one JSON object
/// per line, split across chunks anywhere). Holds at most `maxLineBytes` of an unfinished line.
///
/// ```swift
/// var buffer = JSONLineBuffer(maxLineBytes: 1 << 20)
/// for line in buffer.append(chunk) { decode(line) }
/// if buffer.overflowed { /* one line was too long */ }
/// ```
struct JSONLineBuffer {
    let maxLineBytes: Int
    private var pending: [UInt8] = []
    private(set) var overflowed = false

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// The lines `bytes` completes, without their line breaks; blank lines are skipped.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                if !pending.isEmpty { lines.append(pending) }
                pending.removeAll(keepingCapacity: true)
            } else if pending.count < maxLineBytes {
                pending.append(byte)
            } else {
                overflowed = true
            }
        }
        return lines
    }

    /// What is left after the stream ended (a last line without a line break).
    mutating func finish() -> [UInt8]? {
        defer { pending.removeAll() }
        return pending.isEmpty ? nil : pending
    }
}
