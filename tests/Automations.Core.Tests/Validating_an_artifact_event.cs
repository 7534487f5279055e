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

    /// <summary>The example with one piece of its text replaced, for values System.Text.Json will not write (a lone surrogate).</summary>
    private static string Raw(string find, string replace) => Valid.Replace(find, replace, StringComparison.Ordinal);

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
        { With("entity", "\"acme corp\""), "entity", "letters, digits" },
        { With("project", "\"../x\""), "project", "letters, digits" },
        { With("project", "\"x' or 1=1--\""), "project", "letters, digits" },
        { With("collection", null), "collection", "is required" },
        { With("collection", "\"eval set\""), "collection", "letters, digits" },
        { With("collection", "\"eval-set:v1\""), "collection", "letters, digits" },
        { With("collection", "\"" + new string('c', 129) + "\""), "collection", "at most 128" },
        { With("versionIndex", "-1"), "versionIndex", "non-negative integer" },
        { With("versionIndex", "\"3\""), "versionIndex", "non-negative integer" },
        { With("occurredAt", "\"yesterday\""), "occurredAt", "RFC 3339" },
        { With("occurredAt", null), "occurredAt", "is required" },
        { With("metadata", "[1]"), "metadata", "must be a JSON object" },
        { With("alias", null), "alias", "required for ADD_ARTIFACT_ALIAS" },
        { With("alias", "null"), "alias", "required for ADD_ARTIFACT_ALIAS" },
        { """{"event_id":"1","event_type":"CREATE_ARTIFACT","entity":"acme","project":"p","collection":"c","occurred_at":"2026-11-27T22:41:00Z"}""", "event_id", "use \"eventId\"" },
    };

    /// <summary>Beyond the schema: what PostgreSQL cannot store, anywhere in the event (metadata included).</summary>
    public static TheoryData<string, string, string> Unstorable => new()
    {
        { Raw("\"author\":\"jane\"", "\"author\":\"ja\\u0000ne\""), "author", "NUL" },
        { Raw("\"author\":\"jane\"", "\"author\":\"\\ud800\""), "author", "surrogate" },
        { Raw("{\"accuracy\":0.93}", "{\"head\":\"\\u0000\"}"), "metadata.head", "NUL" },
        { Raw("{\"accuracy\":0.93}", "{\"notes\":[\"ok\",\"\\ud800\"]}"), "metadata.notes[1]", "surrogate" },
        { Raw("{\"accuracy\":0.93}", "{\"he\\u0000ad\":1}"), "metadata", "property name" },
        { Raw("0.93", "1e400"), "metadata.accuracy", "64-bit float" },
        { Raw("0.93", "\"" + new string('x', 300 * 1024) + "\""), "body", "larger than 262144 bytes" },
        // JsonSchema.Net evaluates patterns with .NET's $, which also matches before a final newline; ECMA-262's does not.
        { With("entity", "\"acme\\n\""), "entity", "letters, digits" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    [MemberData(nameof(Unstorable))]
    public void Should_refuse_bad_input_naming_the_field(string json, string field, string message)
    {
        var (e, errors) = Validate(json);
        Assert.Null(e);
        Assert.Contains(errors, err => err.Field == field && err.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Should_refuse_invalid_UTF8_naming_the_field_rather_than_throw()
    {
        var bytes = Encoding.UTF8.GetBytes(Valid.Replace("\"jane\"", "\"ja@@ne\"", StringComparison.Ordinal));
        var at = bytes.AsSpan().IndexOf("@@"u8);
        bytes[at] = 0xC3;
        bytes[at + 1] = 0x28;
        var (e, errors) = ArtifactEventValidator.Validate(bytes);
        Assert.Null(e);
        Assert.Equal("author", Assert.Single(errors).Field);
    }

    [Fact]
    public void Should_use_the_name_rules_of_NameRules_in_the_published_schema()
    {
        var schema = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", "artifact-event.schema.json"))).RootElement;
        string Pattern(string property) => schema.GetProperty("properties").GetProperty(property).GetProperty("pattern").GetString()!;
        Assert.Equal(Automations.Core.Validation.NameRules.EntityPattern, Pattern("entity"));
        Assert.Equal(Automations.Core.Validation.NameRules.ProjectPattern, Pattern("project"));
        Assert.Equal(Automations.Core.Validation.NameRules.CollectionPattern, Pattern("collection"));
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
