/// Parses and validates schedule YAML (`kind: Schedule`) into a ``ScheduleSpec``, with the
/// bounds and problem reporting of ``PipelineSpecParser``.
public enum ScheduleSpecParser {
    /// Parses and validates a schedule.
    ///
    /// - Throws: `SpecError` listing the problems found.
    public static func parse(_ yaml: String) throws(SpecError) -> ScheduleSpec {
        do throws(SpecError) {
            return try PipelineSpecParser.read(yaml) { reader, root in reader.readSchedule(root) }
        } catch {
            var error = error
            error.subject = "schedule"
            throw error
        }
    }
}
