using System.Net;
using Automations.Core.Secrets;
using Automations.Persistence.Control;
using Dapper;

namespace Automations.Api.Tests;

/// <summary>Slack and Teams integrations (admins only, URL kept secret) and the notification and no-op actions that use them.</summary>
public class Managing_notification_integrations(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private const string Integrations = "/v1/entities/acme/integrations";
    private const string Automations = "/v1/entities/acme/projects/mnist/automations";
    private const string SlackPath = "/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstWXYZ";
    private const string SlackUrl = "https://hooks.slack.com" + SlackPath;

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    private async Task<(Guid Id, string Name)> SlackAsync()
    {
        var name = Unique("ml-alerts");
        var created = await fx.PostAsync(Integrations, new { name, kind = "slack", url = SlackUrl });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        return (created.Body.GetProperty("id").GetGuid(), name);
    }

    [Fact]
    public async Task Should_show_the_url_only_masked_and_keep_it_encrypted()
    {
        var name = Unique("ml-alerts");
        var created = await fx.PostAsync(Integrations, new { name, kind = "slack", url = SlackUrl });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        Assert.Equal("https://hooks.slack.com/********WXYZ", created.Body.GetProperty("url").GetString());
        Assert.Equal("slack", created.Body.GetProperty("kind").GetString());

        var listed = await fx.GetAsync(Integrations);
        var one = await fx.GetAsync($"{Integrations}/{id}");
        foreach (var answer in new[] { created.Text, listed.Text, one.Text })
            Assert.DoesNotContain("abcdefghijklmnopqrst", answer, StringComparison.Ordinal);
        Assert.Contains(listed.Body.EnumerateArray(), i => i.GetProperty("id").GetGuid() == id);

        // Stored encrypted: no column of the row holds the URL's secret part.
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var row = await c.QuerySingleAsync<string>("select row_to_json(w)::text from control.webhooks w where id = @id", new { id });
        Assert.DoesNotContain("abcdefghijklmnopqrst", row, StringComparison.Ordinal);
        Assert.DoesNotContain(fx.Logs.Lines, l => l.Contains("abcdefghijklmnopqrst", StringComparison.Ordinal));

        // Not a plain webhook: the webhook endpoints do not see it (members read webhooks, URLs included).
        Assert.DoesNotContain((await fx.GetAsync("/v1/entities/acme/webhooks", fx.MemberKey)).Body.EnumerateArray(), w => w.GetProperty("id").GetGuid() == id);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/acme/webhooks/{id}")).Status);
    }

    [Fact]
    public async Task Should_reencrypt_the_url_when_the_master_key_rotates()
    {
        var (id, _) = await SlackAsync();
        var newKey = SecretCipher.NewMasterKey();
        var config = fx.ServiceConfiguration();
        config["Secrets:MasterKeys:k2"] = newKey;
        config["Secrets:ActiveKeyId"] = "k2";
        await using (var rotated = await fx.StartApiAsync(config))
            Assert.Equal(HttpStatusCode.OK, (await ApiFixture.SendAsync(rotated.Client, HttpMethod.Get, Integrations, null, fx.AdminKey)).StatusCode);

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var row = await c.QuerySingleAsync<(string KeyId, byte[] Nonce, byte[] Ciphertext, byte[] Tag)>(
            "select url_key_id, url_nonce, url_ciphertext, url_tag from control.webhooks where id = @id", new { id });
        Assert.Equal("k2", row.KeyId);
        var onlyNew = SecretCipher.FromBase64(new Dictionary<string, string> { ["k2"] = newKey }, "k2");
        Assert.Equal(SlackUrl, onlyNew.Decrypt(fx.AcmeId, WebhookTarget.SecretUrlName(id), new EncryptedSecret(row.KeyId, row.Nonce, row.Ciphertext, row.Tag)));
    }

    [Fact]
    public async Task Should_let_only_team_admins_create_list_and_delete_integrations()
    {
        var (id, _) = await SlackAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync(Integrations, fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync($"{Integrations}/{id}", fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.PostAsync(Integrations, new { name = Unique("x"), kind = "slack", url = SlackUrl }, fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.DeleteAsync($"{Integrations}/{id}", fx.MemberKey)).Status);
        // Another team's admin does not see it.
        Assert.NotEqual(HttpStatusCode.OK, (await fx.GetAsync($"{Integrations}/{id}", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/globex/integrations/{id}", fx.OtherEntityKey)).Status);

        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"{Integrations}/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"{Integrations}/{id}")).Status);
    }

    public static TheoryData<string?, string?, string?, string, string> InvalidIntegrations() => new()
    {
        // name, kind, url, field, message
        { null, "slack", SlackUrl, "name", "required" },
        { "ok", null, SlackUrl, "kind", "required" },
        { "ok", "discord", SlackUrl, "kind", "slack or teams" },
        { "ok", "slack", null, "url", "required" },
        { "ok", "slack", "http://127.0.0.1/services/T/B/secret-part", "url", "IP address literal" },
        { "ok", "teams", "http://localhost/hook", "url", "localhost" },
        { "ok", "slack", "ftp://hooks.slack.com/services/T/B/secret-part", "url", "scheme" },
    };

    [Theory]
    [MemberData(nameof(InvalidIntegrations))]
    public async Task Should_refuse_an_invalid_integration_naming_the_field(string? name, string? kind, string? url, string field, string message)
    {
        var answer = await fx.PostAsync(Integrations, new { name, kind, url });
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains(ApiFixture.ErrorsOf(answer.Body, field), m => m.Contains(message, StringComparison.Ordinal));
        Assert.DoesNotContain("secret-part", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_save_a_notification_automation_and_refuse_deleting_its_integration()
    {
        var (id, integration) = await SlackAsync();
        var name = Unique("notify");
        var created = await fx.PostAsync(Automations, new
        {
            name,
            @event = new { type = "ADD_ARTIFACT_ALIAS", aliasRegex = "^production$" },
            action = new { type = "notification", integration, title = "New ${artifact_collection_name} version", text = "${artifact_version_string}", severity = "WARN" },
        }, fx.MemberKey);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var action = created.Body.GetProperty("action");
        Assert.Equal(("notification", integration, "New ${artifact_collection_name} version", "${artifact_version_string}", "warning"),
            (action.GetProperty("type").GetString(), action.GetProperty("integration").GetString(), action.GetProperty("title").GetString(),
             action.GetProperty("text").GetString(), action.GetProperty("severity").GetString()));
        var listed = (await fx.GetAsync(Automations, fx.MemberKey)).Body.EnumerateArray().Single(a => a.GetProperty("name").GetString() == name);
        Assert.Equal(("notification", integration), (listed.GetProperty("actionType").GetString(), listed.GetProperty("actionName").GetString()));

        var refused = await fx.DeleteAsync($"{Integrations}/{id}");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains("mnist/" + name, refused.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_save_a_no_op_automation()
    {
        var created = await fx.PostAsync(Automations, new
        {
            name = Unique("try-trigger"), @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" },
        }, fx.MemberKey);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("no_op", created.Body.GetProperty("action").GetProperty("type").GetString());
    }

    public static TheoryData<string, string> InvalidNotifications() => new()
    {
        // action (JSON), field
        { """{"type":"notification","title":"t","text":"x"}""", "action.integration" },
        { """{"type":"notification","integration":"no-such","title":"t","text":"x"}""", "action.integration" },
        { """{"type":"notification","integration":"$I","text":"x"}""", "action.title" },
        { """{"type":"notification","integration":"$I","title":"t"}""", "action.text" },
        { """{"type":"notification","integration":"$I","title":"${no_such_name}","text":"x"}""", "action.title" },
        { """{"type":"notification","integration":"$I","title":"t","text":"${unterminated"}""", "action.text" },
        { """{"type":"notification","integration":"$I","title":"t","text":"x","severity":"fatal"}""", "action.severity" },
        { $$"""{"type":"notification","integration":"$I","title":"{{new string('t', 151)}}","text":"x"}""", "action.title" },
        { """{"type":"webhook","webhook":"$I","payload":"{}"}""", "action.webhook" },
        { """{"type":"tweet"}""", "action.type" },
    };

    [Theory]
    [MemberData(nameof(InvalidNotifications))]
    public async Task Should_refuse_an_invalid_notification_naming_the_field(string action, string field)
    {
        var (_, integration) = await SlackAsync();
        var body = $$"""{"name":"{{Unique("bad")}}","event":{"type":"CREATE_ARTIFACT","collection":"c"},"action":{{action.Replace("$I", integration, StringComparison.Ordinal)}}}""";
        var answer = await fx.PostAsync(Automations, body);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(answer.Body, field));
    }
}
