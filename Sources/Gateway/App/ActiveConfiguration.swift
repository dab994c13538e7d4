import Platform

/// What a `/code` request needs from the active snapshot, resolved once per activation: for each
/// label its seed, its codes-issued counter and the constant parts of its JSON answer. Swapped
/// whole with the snapshot, so a request takes one reference and never mixes two generations.
///
/// ```swift
/// let active = ActiveConfiguration(snapshot: snap, counters: metrics.activate(snap, previous: nil))
/// active.routes["certus"]?.entry.code(at: now)
/// ```
final class ActiveConfiguration: Sendable {
    /// One label's seed, counter and pre-rendered JSON fragments. A class: a request takes one
    /// reference instead of copying (and retaining) every field of the seed entry.
    final class LabelRoute: Sendable {
        let entry: SeedEntry
        let issued: Counter
        /// `{"label":"certus","code":"`
        let bodyPrefix: [UInt8]
        /// `","period":30,"digits":6,"algorithm":"SHA1","remaining":`
        let bodyParameters: [UInt8]

        init(entry: SeedEntry, issued: Counter, bodyPrefix: [UInt8], bodyParameters: [UInt8]) {
            self.entry = entry
            self.issued = issued
            self.bodyPrefix = bodyPrefix
            self.bodyParameters = bodyParameters
        }
    }

    let snapshot: GatewaySnapshot
    let routes: [String: LabelRoute]

    init(snapshot: GatewaySnapshot, counters: [String: Counter]) {
        self.snapshot = snapshot
        var routes: [String: LabelRoute] = [:]
        for (label, entry) in snapshot.seeds.entries {
            var prefix: [UInt8] = []
            prefix.append(static: #"{"label":"#)
            JSONText.appendString(entry.label, to: &prefix)
            prefix.append(static: #","code":""#)
            var parameters: [UInt8] = []
            parameters.append(static: #"","period":"#)
            parameters.append(decimal: entry.parameters.period)
            parameters.append(static: #","digits":"#)
            parameters.append(decimal: entry.parameters.digits)
            parameters.append(static: #","algorithm":""#)
            parameters.append(utf8: entry.parameters.algorithm.name)
            parameters.append(static: #"","remaining":"#)
            routes[label] = LabelRoute(entry: entry, issued: counters[label] ?? Counter(), bodyPrefix: prefix, bodyParameters: parameters)
        }
        self.routes = routes
    }
}
