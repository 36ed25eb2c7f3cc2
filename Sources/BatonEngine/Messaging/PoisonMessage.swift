/// A message that can never be handled (bad encoding, unknown type): it goes to the dead-letter
/// topic at once instead of being retried.
struct PoisonMessage: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
