/// The open connections of one event loop, found by descriptor number (a descriptor is unique
/// while open, and small, so an array indexed by it is the cheapest map). Also picks the
/// connection to evict at the connection cap. Belongs to one loop thread.
///
/// ```swift
/// let table = HTTPConnectionTable()
/// table.insert(connection)
/// table[connection.fd] === connection   // true
/// table.idlest()                        // the connection idle longest, if any is idle
/// table.remove(connection)              // true the first time
/// ```
final class HTTPConnectionTable {
    private var slots: [HTTPConnection?] = []
    /// Open connections in the table.
    private(set) var count = 0

    subscript(fd: Int32) -> HTTPConnection? {
        fd >= 0 && Int(fd) < slots.count ? slots[Int(fd)] : nil
    }

    func insert(_ connection: HTTPConnection) {
        let slot = Int(connection.fd)
        if slot >= slots.count {
            slots.append(contentsOf: repeatElement(nil, count: max(slot + 1 - slots.count, 64)))
        }
        precondition(slots[slot] == nil, "descriptor \(slot) is already in the connection table")
        slots[slot] = connection
        count += 1
    }

    /// Removes `connection`; false when it was not in the table (already removed).
    @discardableResult
    func remove(_ connection: HTTPConnection) -> Bool {
        let slot = Int(connection.fd)
        guard slot < slots.count, slots[slot] === connection else { return false }
        slots[slot] = nil
        count -= 1
        return true
    }

    /// Calls `body` for each connection; `body` may remove connections (the one it is given or
    /// others) but must not insert.
    func forEach(_ body: (HTTPConnection) -> Void) {
        var slot = 0
        while slot < slots.count {
            if let connection = slots[slot] { body(connection) }
            slot += 1
        }
    }

    /// The connection idle longest with no request in progress (a keep-alive between requests,
    /// or one that never sent a byte), or nil. A scan, paid only at the connection cap.
    func idlest() -> HTTPConnection? {
        var oldest: HTTPConnection? = nil
        var oldestSince = UInt64.max
        for case let connection? in slots {
            guard let since = connection.machine.idleSince, since < oldestSince else { continue }
            oldest = connection
            oldestSince = since
        }
        return oldest
    }
}

@available(*, unavailable)
extension HTTPConnectionTable: Sendable {}
