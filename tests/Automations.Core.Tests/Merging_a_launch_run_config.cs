using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Core.Launch;

namespace Automations.Core.Tests;

public class Merging_a_launch_run_config
{
    [Theory]
    [InlineData("""{"lr":0.1}""", """{}""", """{"lr":0.1}""")]
    [InlineData("""{"lr":0.1}""", """{"lr":0.5}""", """{"lr":0.5}""")]
    [InlineData("""{"lr":0.1}""", """{"epochs":3}""", """{"lr":0.1,"epochs":3}""")]
    [InlineData("""{"model":{"name":"cnn","layers":3}}""", """{"model":{"layers":5}}""", """{"model":{"name":"cnn","layers":5}}""")]
    [InlineData("""{"a":{"b":{"c":1,"d":2}}}""", """{"a":{"b":{"d":3,"e":4}}}""", """{"a":{"b":{"c":1,"d":3,"e":4}}}""")]
    [InlineData("""{"tags":["a","b"]}""", """{"tags":["c"]}""", """{"tags":["c"]}""")]
    [InlineData("""{"model":{"name":"cnn"}}""", """{"model":"resnet"}""", """{"model":"resnet"}""")]
    [InlineData("""{"model":"resnet"}""", """{"model":{"name":"cnn"}}""", """{"model":{"name":"cnn"}}""")]
    [InlineData("""{"lr":0.1}""", """{"lr":null}""", """{"lr":null}""")]
    [InlineData("{}", """{"x":{"y":1}}""", """{"x":{"y":1}}""")]
    public void Should_let_the_overrides_win_and_merge_nested_objects(string defaults, string overrides, string expected) =>
        AssertJson(expected, ConfigMerge.Merge(defaults, overrides));

    [Theory]
    [InlineData(null, null, "{}")]
    [InlineData("", "  ", "{}")]
    [InlineData("""{"lr":0.1}""", null, """{"lr":0.1}""")]
    [InlineData(null, """{"lr":0.2}""", """{"lr":0.2}""")]
    [InlineData("""{"lr":0.1}""", "null", """{"lr":0.1}""")]
    public void Should_treat_a_missing_side_as_an_empty_object(string? defaults, string? overrides, string expected) =>
        AssertJson(expected, ConfigMerge.Merge(defaults, overrides));

    [Fact]
    public void Should_leave_the_defaults_unchanged()
    {
        var defaults = JsonNode.Parse("""{"model":{"layers":3}}""");
        ConfigMerge.Merge(defaults, JsonNode.Parse("""{"model":{"layers":5}}"""));
        AssertJson("""{"model":{"layers":3}}""", defaults!.ToJsonString());
    }

    [Theory]
    [InlineData("{not json", "{}")]
    [InlineData("{}", "{\"a\":")]
    public void Should_refuse_text_that_is_not_json(string defaults, string overrides) =>
        Assert.ThrowsAny<JsonException>(() => ConfigMerge.Merge(defaults, overrides));

    private static void AssertJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {expected}, got {actual}");
}
