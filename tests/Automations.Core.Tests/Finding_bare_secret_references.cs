using Automations.Core.Templates;

namespace Automations.Core.Tests;

/// <summary>
/// `$NAME` without braces is sent as it is written; only `${NAME}` is a reference. Saving still succeeds, with a warning
/// for each bare name that is a secret of the team or a template variable.
/// </summary>
public class Finding_bare_secret_references
{
    private static readonly string[] Secrets = ["GITHUB_TOKEN", "SLACK_HOOK", "TOKEN"];

    public static TheoryData<string, string[]> Templates => new()
    {
        { """{"auth":"Bearer $GITHUB_TOKEN"}""", ["GITHUB_TOKEN"] },
        { """{"auth":"Bearer ${GITHUB_TOKEN}"}""", [] },
        { """{"a":"$GITHUB_TOKEN","b":"$SLACK_HOOK and $GITHUB_TOKEN"}""", ["GITHUB_TOKEN", "SLACK_HOOK"] },
        // A property name is a template string too.
        { """{"$TOKEN":1}""", ["TOKEN"] },
        { """{"list":["x",["$TOKEN"]]}""", ["TOKEN"] },
        // Not a secret nor a variable: nothing to warn about (a price, a shell variable of the receiver).
        { """{"text":"costs $5, see $HOME"}""", [] },
        // The longest identifier is the name, as a shell reads it: $TOKEN_X is not $TOKEN.
        { """{"a":"$TOKEN_X"}""", [] },
        { """{"a":"$TOKEN-x"}""", ["TOKEN"] },
        // A reference next to a bare name: both read apart.
        { """{"a":"${alias}$TOKEN"}""", ["TOKEN"] },
        { """{"a":"${TOKEN}$TOKEN"}""", ["TOKEN"] },
        // `$${` is a literal `${`: the author wrote the text ${TOKEN} on purpose.
        { """{"a":"$${TOKEN}"}""", [] },
        // A bare template variable is sent as text as well.
        { """{"who":"$event_author"}""", ["event_author"] },
        { """{"who":"${event_author}"}""", [] },
        // Case matters, as it does for references.
        { """{"a":"$github_token"}""", [] },
        // Not JSON: Validate reports that; no warnings.
        { """{"a":"$TOKEN" """, [] },
        { "", [] },
    };

    [Theory]
    [MemberData(nameof(Templates))]
    public void Should_name_each_secret_or_variable_written_without_braces(string template, string[] expected) =>
        Assert.Equal(expected, PayloadTemplate.BareReferences(template, Secrets));

    [Fact]
    public void Should_say_what_is_sent_and_how_to_send_the_secret()
    {
        var warning = PayloadTemplate.BareReferenceWarning("GITHUB_TOKEN", Secrets);
        Assert.Equal("`$GITHUB_TOKEN` is sent as the text `$GITHUB_TOKEN`, not the value of the secret GITHUB_TOKEN: write `${GITHUB_TOKEN}` to send the secret", warning);
        Assert.Contains("template variable", PayloadTemplate.BareReferenceWarning("alias", Secrets));
    }

    [Fact]
    public void Should_keep_rendering_a_bare_name_as_its_text()
    {
        // What the warning promises: Rules and the sender leave `$TOKEN` as it is.
        var sealedPayload = PayloadTemplate.Render("""{"a":"$TOKEN ${TOKEN}"}""", _ => null);
        Assert.Equal("""{"a":"$TOKEN secret"}""", PayloadTemplate.ExpandSecrets(sealedPayload, n => n == "TOKEN" ? "secret" : null));
    }
}
