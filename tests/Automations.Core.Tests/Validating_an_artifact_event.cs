using System.Text;
using System.Text.Json.Nodes;
using Automations.Core.Events;
using Json.Schema;

namespace Automations.Core.Tests;

public class Validating_an_artifact_event
{
    private const string Valid = """
        {"eventId":"5b0c6a1e-8f3d-4c1e-9a43-1f0f3c2d9e77","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist",
         "collection":"eval-set","versionId":"QXJ0aWZhY3Q6NTE3ODg5ODg3","versionIndex":3,"alias":"production","author":"jane",
         "occurredAt":"2026-11-27T22:41:00Z","metadata":{"accuracy":0.93}}
        """;

    private static (ArtifactEvent? Event, IReadOnlyList<FieldError> Errors) Validate(string json) =>
        ArtifactEventValidator.Validate(Encoding.UTF8.GetBytes(json));

    private static string With(string property, string? rawValue)
    {
        var node = JsonNode.Parse(Valid)!.AsObject();
        if (rawValue is null) node.Remove(property);
        else node[property] = JsonNode.Parse(rawValue);
        return node.ToJsonString();
    }

    [Fact]
    public void Should_accept_the_design_example_and_keep_every_field()
    {
        var (e, errors) = Validate(Valid);
        Assert.Empty(errors);
        Assert.NotNull(e);
        Assert.Equal("5b0c6a1e-8f3d-4c1e-9a43-1f0f3c2d9e77", e.EventId);
        Assert.Equal("ADD_ARTIFACT_ALIAS", e.EventType);
        Assert.Equal(("acme", "mnist", "eval-set"), (e.Entity, e.Project, e.Collection));
        Assert.Equal(3, e.VersionIndex);
        Assert.Equal("production", e.Alias);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 22, 41, 0, TimeSpan.Zero), e.OccurredAt);
        Assert.Equal("""{"accuracy":0.93}""", e.MetadataJson);
    }

    [Fact]
    public void Should_accept_PascalCase_names()
    {
        var (e, errors) = Validate("""{"EventId":"1","EventType":"CREATE_ARTIFACT","Entity":"acme","Project":"p","Collection":"c","OccurredAt":"2026-11-27T22:41:00+01:00"}""");
        Assert.Empty(errors);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 21, 41, 0, TimeSpan.Zero), e!.OccurredAt);
    }

    public static TheoryData<string, string, string> Invalid => new()
    {
        { "", "body", "empty" },
        { "{not json", "body", "not valid JSON" },
        { "[1,2]", "body", "must be a JSON object" },
        { With("eventId", null), "eventId", "is required" },
        { With("eventId", "\"\""), "eventId", "must not be empty" },
        { With("eventId", "42"), "eventId", "must be a string" },
        { With("eventId", "\"" + new string('x', 201) + "\""), "eventId", "at most 200" },
        { With("eventType", "\"DELETE_ARTIFACT\""), "eventType", "unknown event type" },
        { With("eventType", null), "eventType", "is required" },
        { With("entity", null), "entity", "is required" },
        { With("entity", "\"acme corp\""), "entity", "must match" },
        { With("project", "\"../x\""), "project", "must match" },
        { With("collection", null), "collection", "is required" },
        { With("versionIndex", "-1"), "versionIndex", "non-negative integer" },
        { With("versionIndex", "\"3\""), "versionIndex", "non-negative integer" },
        { With("occurredAt", "\"yesterday\""), "occurredAt", "RFC 3339" },
        { With("occurredAt", null), "occurredAt", "is required" },
        { With("metadata", "[1]"), "metadata", "must be a JSON object" },
        { With("alias", null), "alias", "required for ADD_ARTIFACT_ALIAS" },
        { With("alias", "null"), "alias", "required for ADD_ARTIFACT_ALIAS" },
        { """{"event_id":"1","event_type":"CREATE_ARTIFACT","entity":"acme","project":"p","collection":"c","occurred_at":"2026-11-27T22:41:00Z"}""", "event_id", "use \"eventId\"" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Should_refuse_bad_input_naming_the_field(string json, string field, string message)
    {
        var (e, errors) = Validate(json);
        Assert.Null(e);
        Assert.Contains(errors, err => err.Field == field && err.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Should_name_every_bad_field_in_one_answer()
    {
        var (_, errors) = Validate("""{"eventType":"NOPE","entity":"acme"}""");
        Assert.Equal(["collection", "eventId", "eventType", "occurredAt", "project"], errors.Select(e => e.Field).Order().ToArray());
    }

    private static bool IsJson(string s)
    {
        try { System.Text.Json.JsonDocument.Parse(s).Dispose(); return true; }
        catch (System.Text.Json.JsonException) { return false; }
    }

    [Fact]
    public void Should_agree_with_the_published_json_schema()
    {
        var schemaPath = Path.Combine(AppContext.BaseDirectory, "schemas", "artifact-event.schema.json");
        var schema = JsonSchema.FromText(File.ReadAllText(schemaPath));
        var options = new EvaluationOptions { RequireFormatValidation = true };
        var samples = Invalid.Select(row => (string)row[0]).Where(s => s.StartsWith('{') && !s.Contains("event_id", StringComparison.Ordinal)).Append(Valid)
            .Append("""{"eventId":"1","eventType":"CREATE_ARTIFACT","entity":"acme","project":"p","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""")
            .Append("""{"eventId":"1","eventType":"LINK_ARTIFACT","entity":"a","project":"p","collection":"c","occurredAt":"2026-11-27T22:41:00Z","tag":"t","metadata":null}""");
        foreach (var sample in samples)
        {
            if (!IsJson(sample)) continue;
            var ours = Validate(sample).Event is not null;
            var theirs = schema.Evaluate(System.Text.Json.JsonDocument.Parse(sample).RootElement, options).IsValid;
            Assert.True(ours == theirs, $"validator says {ours}, schema says {theirs} for {sample}");
        }
    }
}
