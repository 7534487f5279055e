using System.Text;
using System.Text.Json.Nodes;
using Automations.Api.TeamConfig;

namespace Automations.Api.Tests;

/// <summary>The YAML subset a configuration file is read in, and the YAML an export is written in (no service needed).</summary>
public class Reading_and_writing_config_yaml
{
    [Theory]
    [InlineData("a: 1", """{"a":1}""")]
    [InlineData("a: -1.5e3", """{"a":-1500}""")]
    [InlineData("a: true\nb: False\nc: null\nd: ~\ne:", """{"a":true,"b":false,"c":null,"d":null,"e":null}""")]
    [InlineData("a: \"true\"\nb: '12'\nc: yes\nd: 0x1F", """{"a":"true","b":"12","c":"yes","d":"0x1F"}""")]
    [InlineData("a: |\n  line 1\n  line 2\n", """{"a":"line 1\nline 2\n"}""")]
    [InlineData("a: [1, {b: c}]", """{"a":[1,{"b":"c"}]}""")]
    [InlineData("a: ^prod$\nb: ${x} and ${y}", """{"a":"^prod$","b":"${x} and ${y}"}""")]
    public void Should_read_the_json_subset_of_yaml(string yaml, string json)
    {
        var (bytes, _) = YamlText.ToJson(yaml);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(bytes)), Encoding.UTF8.GetString(bytes));
    }

    [Theory]
    [InlineData("a: &x 1\nb: *x", "a", "anchor")]
    [InlineData("a: !!binary aGk=", "a", "tag")]
    [InlineData("a: 1\na: 2", "a", "twice")]
    [InlineData("? [a]\n: 1", "body", "plain text")]
    [InlineData("a: .nan", "a", "finite")]
    [InlineData("a: 1e999", "a", "range")]
    [InlineData("", "body", "empty")]
    [InlineData("a: 1\n---\nb: 2", "body", "more than one")]
    [InlineData("a: [", "body", "YAML")]
    public void Should_refuse_what_is_not_plain_json_shaped_yaml(string yaml, string field, string rule)
    {
        var ex = Assert.Throws<YamlText.RefusedException>(() => YamlText.ToJson(yaml));
        Assert.Equal(field, ex.Field);
        Assert.Contains(rule, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_refuse_a_lone_surrogate_escape()
    {
        // Refused by the parser itself or, should it let one through, before any JSON writer sees it.
        var ex = Assert.Throws<YamlText.RefusedException>(() => YamlText.ToJson("a: \"\\uD800\""));
        Assert.Contains(ex.Field, new[] { "a", "body" });
    }

    [Fact]
    public void Should_refuse_nesting_deeper_than_the_limit()
    {
        var yaml = "a: " + new string('[', YamlText.MaxDepth + 5) + new string(']', YamlText.MaxDepth + 5);
        Assert.Contains("deep", Assert.Throws<YamlText.RefusedException>(() => YamlText.ToJson(yaml)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_give_the_line_of_every_path()
    {
        var (_, lines) = YamlText.ToJson("version: 1\nautomations:\n  - project: p\n    event:\n      aliasRegex: x\n");
        Assert.Equal((1, 3, 5), (lines["version"], lines["automations[0].project"], lines["automations[0].event.aliasRegex"]));
    }

    [Theory]
    [InlineData("true")]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("123")]
    [InlineData("1.5")]
    [InlineData("yes")]
    [InlineData("*${artifact_version_string}* by ${event_author}")]
    [InlineData("- dash")]
    [InlineData("a: b")]
    [InlineData("#not a comment")]
    [InlineData(" leading and trailing ")]
    [InlineData("{\"event_type\": \"evaluate\"}\n")]
    [InlineData("two\nlines")]
    [InlineData("tab\tand trailing space \nnext")]
    [InlineData("&anchor")]
    [InlineData("!tag")]
    [InlineData("'quoted'")]
    [InlineData("ünïcödé ✓")]
    public void Should_write_text_that_reads_back_as_the_same_text(string text)
    {
        var yaml = YamlText.FromJson(new JsonObject { ["v"] = text, ["n"] = 0.001, ["b"] = false, ["list"] = new JsonArray(), ["o"] = new JsonObject() }, "header");
        var (bytes, _) = YamlText.ToJson(yaml);
        var back = JsonNode.Parse(bytes)!;
        Assert.Equal(text, back["v"]!.GetValue<string>());
        Assert.Equal(0.001, back["n"]!.GetValue<double>());
        Assert.False(back["b"]!.GetValue<bool>());
        Assert.Empty(back["list"]!.AsArray());
    }
}
