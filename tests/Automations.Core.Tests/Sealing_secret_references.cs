using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Templates;
using static Automations.Core.Templates.PayloadTemplate;

namespace Automations.Core.Tests;

/// <summary>
/// A secret is filled in only where the automation's author wrote `${NAME}`: event text never becomes a reference,
/// alone, next to another value, or next to the template's own text. Rules' stage then the sender's, as in production.
/// </summary>
[Trait("Category", "Security")]
public partial class Sealing_secret_references
{
    private static ArtifactEventReceived Event(string metadataJson) =>
        new(Guid.NewGuid(), "p", EventTypes.CreateArtifact, "acme", "mnist", "eval-set", null, 1, null, null, null,
            DateTimeOffset.UtcNow, metadataJson, DateTimeOffset.UtcNow);

    private static string? Secret(string name) => name switch { "SOME_SECRET" => "LEAKED", "AUTHOR" => "granted", _ => null };

    private static string BothStages(string template, string metadataJson) =>
        ExpandSecrets(Render(template, TemplateVariables.For(Event(metadataJson), "a")), Secret);

    private const string Pair = "${artifact_metadata.a}${artifact_metadata.b}";

    public static TheoryData<string, string, string, string> Cases => new()
    {
        { "the attack as reported", """{"adj":"${artifact_metadata.head}${artifact_metadata.tail}"}""", """{"head":"$","tail":"{SOME_SECRET}"}""", """{"adj":"${SOME_SECRET}"}""" },
        { "$ ending one value, {NAME} starting the next", $$"""{"v":"{{Pair}}"}""", """{"a":"x$","b":"{SOME_SECRET}y"}""", """{"v":"x${SOME_SECRET}y"}""" },
        { "$ ending a value before the template's text {NAME}", """{"v":"${artifact_metadata.a}{SOME_SECRET}"}""", """{"a":"$"}""", """{"v":"${SOME_SECRET}"}""" },
        { "the template's literal ${ before a value closing it", """{"v":"$${${artifact_metadata.b}"}""", """{"b":"SOME_SECRET}"}""", """{"v":"${SOME_SECRET}"}""" },
        { "three values: $, {, NAME}", """{"v":"${artifact_metadata.a}${artifact_metadata.b}${artifact_metadata.c}"}""", """{"a":"$","b":"{","c":"SOME_SECRET}"}""", """{"v":"${SOME_SECRET}"}""" },
        { "a whole reference in a value", """{"v":"${artifact_metadata.a}"}""", """{"a":"${SOME_SECRET}"}""", """{"v":"${SOME_SECRET}"}""" },
        { "an escaped reference in a value", """{"v":"${artifact_metadata.a}"}""", """{"a":"$${SOME_SECRET}"}""", """{"v":"$${SOME_SECRET}"}""" },
        { "an unterminated reference closed by the next value", $$"""{"v":"{{Pair}}"}""", """{"a":"${SOME_SECRET","b":"}"}""", """{"v":"${SOME_SECRET}"}""" },
        { "a run of 2 $ before {NAME}", $$"""{"v":"{{Pair}}"}""", """{"a":"$$","b":"{SOME_SECRET}"}""", """{"v":"$${SOME_SECRET}"}""" },
        { "a run of 3 $ before {NAME}", $$"""{"v":"{{Pair}}"}""", """{"a":"$$$","b":"{SOME_SECRET}"}""", """{"v":"$$${SOME_SECRET}"}""" },
        { "a run of 4 $ before {NAME}", $$"""{"v":"{{Pair}}"}""", """{"a":"$$$$","b":"{SOME_SECRET}"}""", """{"v":"$$$${SOME_SECRET}"}""" },
        { "$ alone at the end", """{"v":"${artifact_metadata.a}"}""", """{"a":"cost: 5$"}""", """{"v":"cost: 5$"}""" },
        { "a value's $ before the author's reference", """{"v":"${artifact_metadata.a}${AUTHOR}"}""", """{"a":"$"}""", """{"v":"$granted"}""" },
        { "the author's reference before a value {NAME}", """{"v":"${AUTHOR}${artifact_metadata.b}"}""", """{"b":"{SOME_SECRET}"}""", """{"v":"granted{SOME_SECRET}"}""" },
        { "$ runs in the template's text", """{"v":"$ $$ $$$ $$5"}""", "{}", """{"v":"$ $$ $$$ $$5"}""" },
        { "the author's escape $${", """{"v":"$${SOME_SECRET}"}""", "{}", """{"v":"${SOME_SECRET}"}""" },
        { "$ before the author's escape", """{"v":"$$${SOME_SECRET}"}""", "{}", """{"v":"$${SOME_SECRET}"}""" },
        { "the author's references, twice", """{"v":"${AUTHOR}${AUTHOR}","w":"[${UNKNOWN}]"}""", "{}", """{"v":"grantedgranted","w":"[${UNKNOWN}]"}""" },
        { "a property name", $$"""{"{{Pair}}":1,"k${artifact_metadata.a}":"${artifact_metadata.b}"}""", """{"a":"$","b":"{SOME_SECRET}"}""", """{"${SOME_SECRET}":1,"k$":"{SOME_SECRET}"}""" },
        { "nested objects and arrays", $$"""{"a":[{"b":["{{Pair}}",{"{{Pair}}":["{{Pair}}"]}]}],"n":[1,true,null]}""", """{"a":"$","b":"{SOME_SECRET}"}""",
          """{"a":[{"b":["${SOME_SECRET}",{"${SOME_SECRET}":["${SOME_SECRET}"]}]}],"n":[1,true,null]}""" },
        { "metadata that is JSON, not a string", """{"v":"${artifact_metadata.a}${artifact_metadata.b}"}""", """{"a":{"k":"$"},"b":"{SOME_SECRET}"}""", """{"v":"{\"k\":\"$\"}{SOME_SECRET}"}""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_fill_in_only_the_references_the_author_wrote(string kind, string template, string metadata, string expected)
    {
        var sent = BothStages(template, metadata);
        Assert.True(expected == sent, $"{kind}: expected {expected}, sent {sent}");
        Assert.DoesNotContain("LEAKED", sent, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_reference_only_the_names_the_author_wrote(string kind, string template, string metadata, string expected)
    {
        var references = SecretReferences(Render(template, TemplateVariables.For(Event(metadata), "a")));
        Assert.True(!references.Contains("SOME_SECRET"), kind);
        Assert.Equal(expected.Contains("granted", StringComparison.Ordinal), references.Contains("AUTHOR"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_render_launch_overrides_to_the_same_text_without_filling_in_secrets(string kind, string template, string metadata, string expected)
    {
        var rendered = RenderFinal(template, TemplateVariables.For(Event(metadata), "a"));
        Assert.True(expected.Replace("granted", "${AUTHOR}", StringComparison.Ordinal) == rendered, $"{kind}: {rendered}");
    }

    [GeneratedRegex(@"\$\$\{|\$\{([^{}]*)\}")]
    private static partial Regex Placeholder();

    /// <summary>What one stage would send if it could tell the author's references from everything else: the specification.</summary>
    private static string OneStage(string s, Func<string, string?> variables, Func<string, string?> secret) =>
        Placeholder().Replace(s, m => m.Value == "$${" ? "${" : variables(m.Groups[1].Value) ?? secret(m.Groups[1].Value) ?? m.Value);

    /// <summary>
    /// Many random templates and values built from `$`, `{`, `}`, names and escapes: the two stages send exactly what
    /// the one-stage specification does, where any expansion of event text would show as an extra `&lt;NAME&gt;`.
    /// </summary>
    [Fact]
    public void Should_send_what_one_stage_would_for_random_templates_and_values()
    {
        var random = new Random(20261203);
        string[] pieces = ["$", "$", "{", "}", "x", "S", "${v0}", "${v1}", "${S}", "${}", "$${", "$$", "{S}"];
        string[] valueChars = ["$", "{", "}", "S", "x", "${S}"];
        string Build(string[] from, int max)
        {
            var sb = new StringBuilder();
            for (var n = random.Next(max); n > 0; n--) sb.Append(from[random.Next(from.Length)]);
            return sb.ToString();
        }
        for (var run = 0; run < 20_000; run++)
        {
            var template = Build(pieces, 8);
            var values = new Dictionary<string, string> { ["v0"] = Build(valueChars, 4), ["v1"] = Build(valueChars, 4) };
            string? Variable(string name) => values.TryGetValue(name, out var v) ? v : null;
            static string? AnySecret(string name) => $"<{name}>";
            var json = JsonSerializer.Serialize(new Dictionary<string, string> { [template] = template });
            var expected = JsonSerializer.Serialize(new Dictionary<string, string> { [OneStage(template, Variable, AnySecret)] = OneStage(template, Variable, AnySecret) },
                new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            var sent = ExpandSecrets(Render(json, Variable), AnySecret);
            Assert.True(expected == sent, $"template {template}, v0 {values["v0"]}, v1 {values["v1"]}: expected {expected}, sent {sent}");
        }
    }

    /// <summary>Commands and deliveries rendered before the sealed form (SendWebhook.LegacyPayload) are expanded as they were then.</summary>
    [Theory]
    [InlineData("""{"v":"${SOME_SECRET}"}""", """{"v":"LEAKED"}""")]
    [InlineData("""{"v":"$${SOME_SECRET}"}""", """{"v":"${SOME_SECRET}"}""")]
    [InlineData("""{"v":"$$5 $ $$"}""", """{"v":"$$5 $ $$"}""")]
    [InlineData("""{"${AUTHOR}":"${UNKNOWN}"}""", """{"granted":"${UNKNOWN}"}""")]
    public void Should_expand_a_payload_rendered_before_sealing_as_before(string legacy, string expected) =>
        Assert.Equal(expected, ExpandLegacySecrets(legacy, Secret));

    [Fact]
    public void Should_keep_a_payload_without_dollars_unchanged_through_both_stages()
    {
        const string template = """{"event_type":"BUILD","client_payload":{"v":"${artifact_metadata.a}","n":[1,2.5,false]}}""";
        Assert.Equal("""{"event_type":"BUILD","client_payload":{"v":"plain","n":[1,2.5,false]}}""", BothStages(template, """{"a":"plain"}"""));
    }
}
