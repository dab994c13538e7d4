import Platform

/// The reloadable part of the configuration (seeds and tokens) with its generation number.
/// A snapshot is immutable; SIGHUP builds a complete new one and swaps it in, or keeps the old.
///
/// ```swift
/// let snap = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: now)
/// ```
final class GatewaySnapshot: Sendable {
    let seeds: SeedStore
    let tokens: TokenSet
    let warnings: [ConfigProblem]
    /// Secret files with too open modes that are only warned about (seeds files, container secrets).
    let fileWarnings: [ConfigProblem]
    let generation: Int
    let loadedAt: Int64

    // A class, so handing the active snapshot to a request is one reference count, not five.
    init(seeds: SeedStore, tokens: TokenSet, warnings: [ConfigProblem], fileWarnings: [ConfigProblem] = [], generation: Int, loadedAt: Int64) {
        self.seeds = seeds
        self.tokens = tokens
        self.warnings = warnings
        self.fileWarnings = fileWarnings
        self.generation = generation
        self.loadedAt = loadedAt
    }

    static func load(environment: Environment, generation: Int, loadedAt: Int64) throws(ConfigError) -> GatewaySnapshot {
        var problems: [ConfigProblem] = []
        var seeds: SeedLoader.Result? = nil
        var tokens: TokenSet? = nil
        do { seeds = try SeedLoader(environment: environment).load() } catch { problems += error.problems }
        do { tokens = try TokenSet.load(from: environment) } catch { problems += error.problems }
        if !problems.isEmpty { throw ConfigError(problems) }
        return GatewaySnapshot(seeds: seeds!.store, tokens: tokens!, warnings: seeds!.warnings,
            fileWarnings: seeds!.fileWarnings + tokens!.warnings, generation: generation, loadedAt: loadedAt)
    }
}
