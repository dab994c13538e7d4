/// What to watch and from when.
///
/// ```swift
/// // Every change to the leader key after the campaign's revision, on one stream of at most 60 s.
/// let request = EtcdWatchRequest(range: .key("/totp-bot/leader"), startRevision: campaignRevision + 1)
/// ```
public struct EtcdWatchRequest: Sendable, Equatable {
    public var range: EtcdKeyRange
    /// First revision to report; 0 starts after the current one. Resuming with the revision an
    /// interrupted watch returns misses nothing and repeats nothing.
    public var startRevision: Int64
    /// Report each key's previous value too.
    public var previousValues: Bool
    /// The stream is ended and `.interrupted` returned after this long, so a connection that
    /// died silently (no reset, as in a network partition) is noticed; resume from there.
    public var maxDuration: Duration

    public init(range: EtcdKeyRange, startRevision: Int64 = 0, previousValues: Bool = false, maxDuration: Duration = .seconds(60)) {
        self.range = range
        self.startRevision = startRevision
        self.previousValues = previousValues
        self.maxDuration = maxDuration
    }
}
