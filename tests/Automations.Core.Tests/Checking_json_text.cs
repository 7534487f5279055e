using System.Text;
using Automations.Core.Validation;

namespace Automations.Core.Tests;

/// <summary>The rule every JSON input meets before anything binds it: what passes can be stored as text or jsonb.</summary>
public class Checking_json_text
{
    public static TheoryData<string, string, string> Refused => new()
    {
        { "", "body", "empty" },
        { "{\"a\":", "body", "not valid JSON" },
        { "{\"description\":\"a\\u0000b\"}", "description", "NUL" },
        { "{\"description\":\"a\\ud800b\"}", "description", "surrogate" },
        { "{\"description\":\"a\\udc00b\"}", "description", "surrogate" },
        { "{\"description\":\"\\ude00\\ud83d\"}", "description", "surrogate" },
        { "{\"args\":[\"ok\",\"a\\u0000\"]}", "args[1]", "NUL" },
        { "{\"a\":{\"b\":[{\"c\":\"\\u0000\"}]}}", "a.b[0].c", "NUL" },
        { "{\"a\":[[1],[2,\"\\u0000\"]]}", "a[1][1]", "NUL" },
        { "{\"x\\u0000y\":1}", "body", "property name" },
        { "{\"meta\":{\"x\\ud800\":1}}", "meta", "property name" },
        { "\"\\u0000\"", "body", "NUL" },
        { "{\"n\":1e400}", "n", "64-bit float" },
        { "{\"n\":-1e309}", "n", "64-bit float" },
        { "{\"n\":1e-400}", "n", "too close to zero" },
        { "{\"n\":1" + new string('0', 120) + "}", "n", "more than 100 characters" },
        { new string('[', 65) + new string(']', 65), "body", "nested deeper than 64" },
        { "{\"deep\":" + new string('[', 10_000) + new string(']', 10_000) + "}", "body", "nested deeper than 64" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Should_refuse_naming_where(string json, string field, string message)
    {
        var problem = JsonText.Check(Encoding.UTF8.GetBytes(json));
        Assert.NotNull(problem);
        Assert.Equal(field, problem.Field);
        Assert.Contains(message, problem.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> Accepted => new()
    {
        "{}",
        "[]",
        "{\"name\":\"évaluation 😀 \\ud83d\\ude00\",\"tab\":\"a\\tb\",\"quote\":\"\\\"\"}",
        "{\"big\":9223372036854775808,\"small\":-1.5e-300,\"zero\":0.0e-999,\"max\":1.7976931348623157e308}",
        "{\"a\":" + new string('[', 60) + new string(']', 60) + "}",
        "null",
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void Should_accept_what_can_be_stored(string json) => Assert.Null(JsonText.Check(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData(new byte[] { (byte)'"', 0xFF, (byte)'"' }, "body")]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xED, 0xA0, 0x80, (byte)'"', (byte)'}' }, "a")]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, (byte)'\\', (byte)'n', (byte)'"', (byte)'}' }, "a")]
    [InlineData(new byte[] { (byte)'{', (byte)'"', 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}' }, "body")]
    public void Should_refuse_bytes_that_are_not_UTF8(byte[] json, string field)
    {
        var problem = JsonText.Check(json);
        Assert.NotNull(problem);
        Assert.Equal(field, problem.Field);
        Assert.Contains("UTF-8", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_leave_syntax_to_the_callers_parser_when_asked_for_values_only()
    {
        Assert.Null(JsonText.CheckValues("{not json"u8));
        Assert.Equal("a", JsonText.CheckValues("{\"a\":\"\\u0000\"}"u8)!.Field);
    }
}

public class Keeping_text_storable
{
    // Built here rather than passed as theory data: the runner cannot carry a lone surrogate through its serialization.
    private static readonly (string Text, string? Problem, string Scrubbed)[] Cases =
    [
        ("plain", null, "plain"),
        ("emoji \ud83d\ude00", null, "emoji \ud83d\ude00"),
        ("a\0b", StorableText.NulProblem, "a\uFFFDb"),
        ("a\ud800b", StorableText.SurrogateProblem, "a\uFFFDb"),
        ("\udc00", StorableText.SurrogateProblem, "\uFFFD"),
        ("end\ud83d", StorableText.SurrogateProblem, "end\uFFFD"),
        ("\ud800\ud83d\ude00\udc00", StorableText.SurrogateProblem, "\uFFFD\ud83d\ude00\uFFFD"),
    ];

    [Fact]
    public void Should_say_what_cannot_be_stored_and_scrub_what_must_be_kept_anyway()
    {
        foreach (var (text, problem, scrubbed) in Cases)
        {
            Assert.Equal(problem, StorableText.Problem(text));
            Assert.Equal(scrubbed, StorableText.Scrub(text));
            Assert.Null(StorableText.Problem(StorableText.Scrub(text)));
        }
    }
}

public class Applying_one_name_rule_everywhere
{
    [Theory]
    [InlineData("acme", true)]
    [InlineData("acme-ml_2.0", true)]
    [InlineData("acme\n", false)]
    [InlineData("-acme", false)]
    [InlineData("acme corp", false)]
    [InlineData("x' or 1=1--", false)]
    public void Should_check_entity_names(string name, bool valid) => Assert.Equal(valid, NameRules.CheckEntity(name) is null);

    [Theory]
    [InlineData("mnist", true)]
    [InlineData("wandb-registry-model", true)]
    [InlineData("x' or 1=1--", false)]
    [InlineData("../etc", false)]
    [InlineData("mnist\n", false)]
    [InlineData("", false)]
    public void Should_check_project_names(string name, bool valid) => Assert.Equal(valid, NameRules.CheckProject(name) is null);

    [Theory]
    [InlineData("eval-set", true)]
    [InlineData(".hidden_v2", true)]
    [InlineData("eval set", false)]
    [InlineData("model:v1", false)]
    [InlineData("a/b", false)]
    public void Should_check_collection_names(string name, bool valid) => Assert.Equal(valid, NameRules.CheckCollection(name) is null);

    [Fact]
    public void Should_bound_lengths_as_the_patterns_do()
    {
        Assert.Null(NameRules.CheckProject(new string('p', NameRules.MaxProjectLength)));
        Assert.NotNull(NameRules.CheckProject(new string('p', NameRules.MaxProjectLength + 1)));
        Assert.Null(NameRules.CheckCollection(new string('c', NameRules.MaxCollectionLength)));
        Assert.NotNull(NameRules.CheckCollection(new string('c', NameRules.MaxCollectionLength + 1)));
        Assert.NotNull(NameRules.CheckEntity(new string('e', NameRules.MaxEntityLength + 1)));
    }
}
