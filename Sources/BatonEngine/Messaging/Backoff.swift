/// Exponential backoff with jitter, for waiting out a failure that may clear (a database or
/// broker away): each wait is a random duration between half and all of the current step, and
/// the step doubles up to `maximum`, so many lanes that failed together do not retry in step.
struct Backoff: Sendable {
    /// The step of the next wait.
    private(set) var next: Duration
    private let maximum: Duration

    /// - Parameters:
    ///   - first: the first step. Default: 100 ms.
    ///   - maximum: the largest step. Default: 10 s.
    init(first: Duration = .milliseconds(100), maximum: Duration = .seconds(10)) {
        next = first
        self.maximum = maximum
    }

    /// Sleeps for the jittered step and doubles it; returns early when the task is cancelled.
    mutating func wait() async {
        let step = next
        next = min(next * 2, maximum)
        try? await Task.sleep(for: step * Double.random(in: 0.5...1.0))
    }
}
