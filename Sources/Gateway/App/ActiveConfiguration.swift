import Platform
import TOTP

/// What a `/code` request needs from the active snapshot, resolved once per activation: for each
/// label its seed, its codes-issued counter and the constant parts of its JSON answer. Swapped
/// whole with the snapshot, so a request takes one reference and never mixes two generations.
///
/// ```swift
/// let active = ActiveConfiguration(snapshot: snap, issued: metrics.activate(snap, previous: nil))
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

    /// `issued` gives each label's codes-issued counter. Linear in the labels; labels with the
    /// same parameters share one `bodyParameters` array (most seeds have the defaults).
    init(snapshot: GatewaySnapshot, issued: (String) -> Counter) {
        self.snapshot = snapshot
        var routes: [String: LabelRoute] = [:]
        routes.reserveCapacity(snapshot.seeds.count)
        var shared: [TOTPParameters: [UInt8]] = [:]
        for (label, entry) in snapshot.seeds.entries {
            var prefix: [UInt8] = []
            prefix.reserveCapacity(entry.label.utf8.count + 22)
            prefix.append(static: #"{"label":"#)
            JSONText.appendString(entry.label, to: &prefix)
            prefix.append(static: #","code":""#)
            let parameters = shared[entry.parameters] ?? Self.renderParameters(entry.parameters)
            shared[entry.parameters] = parameters
            routes[label] = LabelRoute(entry: entry, issued: issued(label), bodyPrefix: prefix, bodyParameters: parameters)
        }
        self.routes = routes
    }

    /// `","period":30,"digits":6,"algorithm":"SHA1","remaining":`
    private static func renderParameters(_ p: TOTPParameters) -> [UInt8] {
        var parameters: [UInt8] = []
        parameters.append(static: #"","period":"#)
        parameters.append(decimal: p.period)
        parameters.append(static: #","digits":"#)
        parameters.append(decimal: p.digits)
        parameters.append(static: #","algorithm":""#)
        parameters.append(utf8: p.algorithm.name)
        parameters.append(static: #"","remaining":"#)
        return parameters
    }
}
