/// The outbox's bookkeeping, each step written with the rest of the leader's state: an item is
/// `sending` on record before its POST, `sent` with its message id after; held items are let go
/// when what they wait for is on record (the reply with the code, the code item); items done
/// with are forgotten once the watermark passes them (no catch-up can meet them any more).
///
/// ```swift
/// for item in flow.sendable(now: t) {
///     flow.markSending(item.key, users: item.users)   // written, then POST
///     flow.recordSent(item.key, messageID: 3051)      // written after the POST
/// }
/// ```
extension AccessWorkflow {
    /// Items to send now, oldest first.
    func sendable(now: Double) -> [OutboxItem] {
        outbox.filter { $0.status == .ready && ($0.notBefore ?? 0) <= now }
    }

    /// Items whose POST may have happened (a leader died, or the answer was lost).
    var inDoubt: [OutboxItem] { outbox.filter { $0.status == .sending } }

    /// Messages sent by the outbox that are still above the watermark: they answer no DM, so
    /// catch-up must not take them for a reply.
    var sentMessageIDs: Set<Int> { Set(outbox.compactMap { $0.status == .sent ? $0.messageID : nil }) }

    /// The ask messages of pending requests (their reactions are votes).
    var openAskMessages: [Int] { requests.filter(\.isPending).flatMap { $0.asks.compactMap(\.messageID) } }

    /// Unsent items (the `bot_access_outbox` gauge).
    var unsentCount: Int { outbox.filter { $0.status != .sent }.count }

    func item(_ key: String) -> OutboxItem? { outbox.first { $0.key == key } }

    /// On record before the POST, with the recipients it goes to (inactive ones left out).
    /// False when the item is not ready any more (its echo arrived meanwhile, say): no POST.
    @discardableResult
    mutating func markSending(_ key: String, users: [Int]) -> Bool {
        guard let i = outbox.firstIndex(where: { $0.key == key }), outbox[i].status == .ready else { return false }
        outbox[i].status = .sending
        outbox[i].users = users
        outbox[i].attempts += 1
        return true
    }

    /// The bot's queue delivered a message the outbox sent (its local echo): sent, whatever the
    /// POST's answer. An item already recorded keeps its record.
    mutating func recordEcho(_ key: String, messageID: Int) {
        guard let item = item(key), item.status != .sent else { return }
        recordSent(key, messageID: messageID)
    }

    /// Sent as message `messageID`: an ask remembers it (reactions to it vote), what waited for
    /// this item is let go.
    mutating func recordSent(_ key: String, messageID: Int) {
        guard let i = outbox.firstIndex(where: { $0.key == key }) else { return }
        outbox[i].status = .sent
        outbox[i].messageID = messageID
        let item = outbox[i]
        if item.role == .ask, let r = requests.firstIndex(where: { $0.number == item.request }),
            let a = requests[r].asks.firstIndex(where: { $0.approver == item.users.first }) {
            requests[r].asks[a].messageID = messageID
        }
        for j in outbox.indices where outbox[j].status == .held && outbox[j].afterItem == key {
            outbox[j].status = .ready
        }
    }

    /// Not sent (refused, or no code to send): tried again from `at`.
    mutating func retryLater(_ key: String, at: Double) {
        guard let i = outbox.firstIndex(where: { $0.key == key }) else { return }
        outbox[i].status = .ready
        outbox[i].notBefore = at
    }

    /// Given up: the item and whatever waited for it are dropped. Returns what was dropped.
    @discardableResult
    mutating func drop(_ key: String) -> [OutboxItem] {
        let dropped = outbox.filter { $0.key == key || ($0.status == .held && $0.afterItem == key) }
        outbox.removeAll { $0.key == key || ($0.status == .held && $0.afterItem == key) }
        return dropped
    }

    /// The code of approved request `number` cannot be sent (the code service failed for too
    /// long, the label is gone, the requester lost access): its item and notification are
    /// dropped, and, if `tell`, the requester is told so instead.
    mutating func codeFailed(_ number: Int, tell: Bool, now: Double) {
        drop("r\(number)-code")
        guard tell, let r = request(number) else { return }
        outbox.append(OutboxItem(key: "r\(number)-failed", role: .result, request: number, users: [r.requester],
                                 text: AccessText.codeFailed(r), marker: AccessText.Marker.failed(number), createdAt: now))
    }

    /// The reply to DM `messageID` is on record: what waited for it (the notification of a
    /// code handed out as that reply) may go.
    mutating func replyRecorded(to messageID: Int) {
        for j in outbox.indices where outbox[j].status == .held && outbox[j].afterReplyTo == messageID {
            outbox[j].status = .ready
        }
    }

    /// Forgets what no catch-up can meet: sent items at or below the watermark, and items held
    /// for the reply to a DM the watermark passed without one (no code went out).
    mutating func prune(watermark: Int) {
        outbox.removeAll { item in
            if item.status == .sent, let id = item.messageID { return id <= watermark }
            if item.status == .held, let dm = item.afterReplyTo { return dm <= watermark }
            return false
        }
    }
}
