using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using OpenQA.Selenium.Support.UI;

namespace Automations.Console.Tests;

/// <summary>
/// The wizard's live preview (wwwroot/wizard.js and the console's own preview endpoint): the rendered payload follows
/// the typing without pressing Preview, a JSON error is said at its line and character, a secret stays ${NAME}, and the
/// endpoint answers only the signed-in team's visitor with a valid antiforgery token.
/// </summary>
[Collection("browser")]
public class Previewing_a_payload_live_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private static string Wizard(string project) => $"/acme/projects/{project}/automations/new";

    /// <summary>The live preview's text (read by script: the fragment is replaced as answers come in).</summary>
    private string Live(string css) =>
        B.Driver.ExecuteScript("var e = document.querySelector(arguments[0]); return e ? e.textContent : '';", "#preview-live " + css) as string ?? "";

    private void WaitForLive(string css, string text) =>
        new WebDriverWait(B.Driver, TimeSpan.FromSeconds(30)) { Message = $"the live preview's {css} never said {text}" }
            .Until(_ => Live(css).Contains(text, StringComparison.Ordinal));

    private void ShowPreview() => B.Driver.ExecuteScript("document.getElementById('preview-live').scrollIntoView({block: 'center'});");

    [Fact]
    public async Task Should_show_the_rendered_payload_as_it_is_typed_with_secrets_masked_and_json_errors_at_their_position()
    {
        var secret = Unique("LIVE_TOKEN_").ToUpperInvariant();
        const string value = "live-preview-secret-value-987";
        var hook = Unique("live-hook-");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value });
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/live"), secret });
        var project = Unique("live-");

        B.SignInToConsole(fx.AdminKey);
        B.Go(Wizard(project));
        B.ChooseValue("#event-type", "ADD_ARTIFACT_ALIAS");
        B.ChooseValue("#webhook", hook);
        B.Fill("#payload", "{\"version\": \"${artifact_version_string}\", \"token\": \"${" + secret + "}\"}");

        WaitForLive("#preview-body", $"acme/{project}/eval-set:production");
        Assert.Contains("${" + secret + "}", Live("#preview-body"));
        Assert.Contains("Matches", Live("#preview-verdict"));
        Assert.Contains("/live", Live("#preview-url"));
        Assert.Equal(Wizard(project), B.Path0);
        Assert.DoesNotContain("draft=", B.Driver.Url);
        Assert.DoesNotContain(value, B.Source);
        Assert.DoesNotContain(fx.AdminKey, B.Source);
        ShowPreview();
        B.Screenshot("wizard-live-preview");

        // Not JSON: why, at its line and character, in the preview and under the field; the rendered payload is gone.
        B.Fill("#payload", "{\"version\": ${artifact_version_string}}");
        WaitForLive("#preview-live-errors", "Payload is not valid JSON");
        Assert.Contains("line 1, character 13", Live("#preview-live-errors li[data-field=payload]"));
        Assert.Equal("", Live("#preview-body"));
        Assert.Contains("line 1, character 13", B.Text("#payload-live"));
        Assert.DoesNotContain("BytePositionInLine", B.Source);
        ShowPreview();
        B.Screenshot("wizard-live-preview-error");

        // The sample edited: the preview follows it too.
        B.Fill("#payload", "{\"alias\": \"${alias}\"}");
        WaitForLive("#preview-body", "production");
        B.SetValue("#alias-regex", "^prod$");
        WaitForLive("#preview-verdict", "Does not match");
        Assert.Contains("Alias regex", Live("#preview-refusal"));

        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from control.automations where project = @project", new { project }));
    }

    [Fact]
    public async Task Should_answer_the_live_preview_only_to_the_teams_signed_in_visitor_with_a_valid_token()
    {
        var project = Unique("live-auth-");
        B.SignInToConsole(fx.MemberKey);
        B.Go(Wizard(project));
        var token = B.Find("#new-automation input[name=__RequestVerificationToken]").GetAttribute("value")!;
        var cookies = B.Cookies();
        FormUrlEncodedContent Form(bool withToken)
        {
            var fields = new Dictionary<string, string>
            {
                ["Form.EventType"] = "CREATE_ARTIFACT", ["Form.Collection"] = "eval-set", ["Form.ActionType"] = "no_op",
                ["Form.Sample"] = "{\"eventId\":\"e1\",\"eventType\":\"CREATE_ARTIFACT\",\"entity\":\"acme\",\"project\":\"" + project + "\",\"collection\":\"eval-set\",\"versionIndex\":1,\"author\":\"jane\",\"occurredAt\":\"2026-11-27T22:41:00Z\"}",
            };
            if (withToken) fields["__RequestVerificationToken"] = token;
            return new FormUrlEncodedContent(fields);
        }

        using var member = fx.ConsoleClient(cookies);
        using (var ok = await member.PostAsync($"{Wizard(project)}/preview", Form(true)))
        {
            var html = await ok.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Contains("id=\"preview-verdict\"", html);
            Assert.Contains("Matches", html);
            Assert.Equal("no-store", ok.Headers.CacheControl?.ToString());
        }
        using (var forged = await member.PostAsync($"{Wizard(project)}/preview", Form(false)))
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        using (var json = await member.PostAsync($"{Wizard(project)}/preview", new StringContent("{\"payload\": 1}", System.Text.Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        using (var huge = await member.PostAsync($"{Wizard(project)}/preview", new StringContent(
                   "__RequestVerificationToken=" + Uri.EscapeDataString(token) + "&Form.Payload=" + new string('x', 5_000_000), System.Text.Encoding.ASCII, "application/x-www-form-urlencoded")))
        {
            if (huge.StatusCode == HttpStatusCode.InternalServerError) Assert.Fail(string.Join("\n", fx.Logs.Lines.Where(l => l.Contains("xception", StringComparison.Ordinal)).Take(3)));
            Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
        }
        using (var team = await member.PostAsync("/acme/automations/new/preview", Form(true)))
            Assert.Equal(HttpStatusCode.Forbidden, team.StatusCode);
        using (var other = await member.PostAsync($"/globex/projects/{project}/automations/new/preview", Form(true)))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using var anonymous = fx.ConsoleClient(null);
        using (var nobody = await anonymous.PostAsync($"{Wizard(project)}/preview", Form(true)))
            Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
        Assert.DoesNotMatch(new Regex(Regex.Escape(fx.MemberKey)), string.Join("\n", fx.Logs.Lines));
    }
}
