using System.Text;
using System.Text.Json.Nodes;
using Automations.Core.Events;
using Json.Schema;

namespace Automations.Core.Tests;

public class Validating_a_run_event
{
    private const string Metric = """
        {"eventId":"m-120","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"3kq1x9ab","runName":"glad-sky-7",
         "user":"jane","tags":["baseline"],"step":120,"metrics":{"val_loss":0.31,"accuracy":0.91},"occurredAt":"2026-12-03T21:00:00Z"}
        """;

    private const string State = """
        {"eventId":"s-1","eventType":"RUN_STATE","entity":"acme","project":"mnist","runId":"3kq1x9ab","runName":"glad-sky-7",
         "user":"jane","state":"finished","occurredAt":"2026-12-03T21:05:00Z"}
        """;

    private static EventValidator.Result Validate(string json) => EventValidator.Validate(Encoding.UTF8.GetBytes(json));

    private static string With(string baseJson, string property, string? rawValue)
    {
        var node = JsonNode.Parse(baseJson)!.AsObject();
        if (rawValue is null) node.Remove(property);
        else node[property] = JsonNode.Parse(rawValue);
        return node.ToJsonString();
    }

    [Fact]
    public void Should_accept_a_metric_event_and_keep_every_field()
    {
        var r = Validate(Metric);
        Assert.Empty(r.Errors);
        Assert.Null(r.Artifact);
        var e = Assert.IsType<RunEvent>(r.Run);
        Assert.Equal(("RUN_METRIC", "acme", "mnist", "3kq1x9ab", "glad-sky-7", "jane"), (e.EventType, e.Entity, e.Project, e.RunId, e.RunName, e.User));
        Assert.Equal(120L, e.Step!.Value);
        Assert.Equal(0.31, e.Metrics!["val_loss"]);
        Assert.Equal(["baseline"], e.Tags!);
    }

    [Fact]
    public void Should_accept_a_state_event()
    {
        var r = Validate(State);
        Assert.Empty(r.Errors);
        Assert.Equal("finished", r.Run!.State);
    }

    [Fact]
    public void Should_still_take_an_artifact_event_to_the_artifact_rules()
    {
        var r = Validate("""{"eventId":"1","eventType":"CREATE_ARTIFACT","entity":"acme","project":"p","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""");
        Assert.Empty(r.Errors);
        Assert.NotNull(r.Artifact);
        Assert.Null(r.Run);
    }

    public static TheoryData<string, string, string> Invalid => new()
    {
        { With(Metric, "runId", null), "runId", "is required" },
        { With(Metric, "runId", "\"a/b\""), "runId", "letters, digits" },
        { With(Metric, "runId", "\"" + new string('r', 129) + "\""), "runId", "at most 128" },
        { With(Metric, "step", null), "step", "required for RUN_METRIC" },
        { With(Metric, "step", "-1"), "step", "non-negative integer" },
        { With(Metric, "step", "1.5"), "step", "non-negative integer" },
        { With(Metric, "metrics", null), "metrics", "required for RUN_METRIC" },
        { With(Metric, "metrics", "{}"), "metrics", "at least one metric" },
        { With(Metric, "metrics", "[1]"), "metrics", "JSON object" },
        { With(Metric, "metrics", """{"val_loss":"low"}"""), "metrics.val_loss", "finite number" },
        { With(Metric, "metrics", """{"val_loss":null}"""), "metrics.val_loss", "finite number" },
        { With(Metric, "tags", "\"baseline\""), "tags", "array of strings" },
        { With(Metric, "tags", "[\"ok\", 3]"), "tags[1]", "string of 1 to 256" },
        { With(Metric, "tags", "[\"ok\", \"\"]"), "tags[1]", "string of 1 to 256" },
        { With(Metric, "entity", "\"acme corp\""), "entity", "letters, digits" },
        { With(Metric, "occurredAt", "\"soon\""), "occurredAt", "RFC 3339" },
        { With(State, "state", null), "state", "is required" },
        { With(State, "state", "\"paused\""), "state", "not one of running, finished, failed, crashed" },
        { With(State, "user", "\"\""), "user", "must not be empty" },
        { With(Metric, "run_id", "\"x\""), "run_id", "use \"runId\"" },
        { With(Metric, "metrics", """{"a":1e400}"""), "metrics.a", "64-bit float" },
        { With(Metric, "metrics", """{"a":"NaN"}"""), "metrics.a", "finite number" },
        { With(Metric, "metrics", """{"a":"Infinity"}"""), "metrics.a", "finite number" },
        { With(Metric, "metrics", """{"a":"0.5"}"""), "metrics.a", "finite number" },
        { With(Metric, "metrics", """{"a":true}"""), "metrics.a", "finite number" },
        { With(Metric, "metrics", """{"a":{"b":1}}"""), "metrics.a", "finite number" },
        { With(Metric, "metrics", """{"a":[1]}"""), "metrics.a", "finite number" },
        { With(Metric, "step", "9223372036854775808"), "step", "non-negative integer" },
    };

    /// <summary>A metric value is a 64-bit float, as W&amp;B logs it: any finite JSON number, integers beyond 2^53 and 2^63 included.</summary>
    public static TheoryData<string, double> Doubles => new()
    {
        { "9223372036854775808", 9223372036854775808d },
        { "-9223372036854775809", -9223372036854775809d },
        { "1.7976931348623157e308", double.MaxValue },
        { "-1.7976931348623157E+308", double.MinValue },
        { "5e-324", double.Epsilon },
        { "-0", -0d },
        { "12", 12d },
        { "1E2", 100d },
    };

    [Theory]
    [MemberData(nameof(Doubles))]
    public void Should_take_any_finite_double_as_a_metric_value(string raw, double expected)
    {
        var r = Validate(With(Metric, "metrics", $$"""{"val_loss":{{raw}}}"""));
        Assert.Empty(r.Errors);
        Assert.Equal(expected, r.Run!.Metrics!["val_loss"]);
    }

    /// <summary>
    /// A field is named as the whole-text rule names it, whichever check refuses it: the same path for a NUL in a tag
    /// (<see cref="Automations.Core.Validation.JsonText"/>) as for a number in its place (the run event's own rule).
    /// </summary>
    [Fact]
    public void Should_name_an_array_element_as_the_whole_text_rule_does()
    {
        var nul = Validate(Metric.Replace("[\"baseline\"]", "[\"ok\",\"a\\u0000b\"]", StringComparison.Ordinal));
        var number = Validate(Metric.Replace("[\"baseline\"]", "[\"ok\",7]", StringComparison.Ordinal));
        Assert.Equal("tags[1]", Assert.Single(nul.Errors).Field);
        Assert.Equal("tags[1]", Assert.Single(number.Errors).Field);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Should_refuse_bad_input_naming_the_field(string json, string field, string message)
    {
        var r = Validate(json);
        Assert.Null(r.Run);
        Assert.Contains(r.Errors, err => err.Field == field && err.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Should_list_the_run_event_types_when_the_type_is_unknown()
    {
        var r = Validate("""{"eventId":"1","eventType":"RUN_PAUSED","entity":"acme","project":"p","runId":"r","occurredAt":"2026-11-27T22:41:00Z"}""");
        Assert.Contains(r.Errors, e => e.Field == "eventType" && e.Message.Contains("RUN_STATE, RUN_METRIC", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_agree_with_the_published_json_schema()
    {
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", "run-event.schema.json")));
        var options = new EvaluationOptions { RequireFormatValidation = true };
        var samples = Invalid.Select(row => (string)row[0])
            .Where(s => !s.Contains("run_id", StringComparison.Ordinal) && !s.Contains("1e400", StringComparison.Ordinal))
            .Concat(Doubles.Select(row => With(Metric, "metrics", $$"""{"val_loss":{{row[0]}}}""")))
            .Append(Metric).Append(State)
            .Append("""{"eventId":"1","eventType":"RUN_STATE","entity":"a","project":"p","runId":"r","state":"crashed","occurredAt":"2026-11-27T22:41:00Z","tags":null}""");
        foreach (var sample in samples)
        {
            var ours = Validate(sample).Run is not null;
            var theirs = schema.Evaluate(System.Text.Json.JsonDocument.Parse(sample).RootElement, options).IsValid;
            Assert.True(ours == theirs, $"validator says {ours}, schema says {theirs} for {sample}");
        }
    }
}
