import CSystem

/// Hands freed heap pages back to the kernel. Loading 30,000 labels allocates several times
/// what it keeps (file text, lines, candidates, a second generation during a reload), and
/// glibc keeps freed pages mapped for reuse, so resident memory stayed at the peak of the last
/// load. Called after a configuration is loaded or retired, never on a request path.
///
/// ```swift
/// HeapMemory.releaseFreePages()
/// ```
public enum HeapMemory {
    /// `malloc_trim(0)`: every arena's free pages go back (glibc 2.8+ trims inside arenas too).
    public static func releaseFreePages() {
        _ = malloc_trim(0)
    }
}
