using System.Net;
using System.Text.Json;
using Automations.Core.Secrets;
using Automations.Testing;
using Dapper;

namespace Automations.Api.Tests;

public class Keeping_team_secrets(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private const string Secrets = "/v1/entities/acme/secrets";

    private static string Unique(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();

    private async Task<string> DecryptFromDatabaseAsync(string name)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var row = await c.QuerySingleAsync<(string KeyId, byte[] Nonce, byte[] Ciphertext, byte[] Tag)>(
            "select key_id, nonce, ciphertext, tag from control.secrets where entity_id = @id and name = @name", new { id = fx.AcmeId, name });
        var cipher = SecretCipher.FromBase64(new Dictionary<string, string> { [TestEnvironment.TestMasterKeyId] = TestEnvironment.TestMasterKey }, TestEnvironment.TestMasterKeyId);
        return cipher.Decrypt(fx.AcmeId, name, new EncryptedSecret(row.KeyId, row.Nonce, row.Ciphertext, row.Tag));
    }

    [Fact]
    public async Task Should_store_the_value_encrypted_and_list_only_names_and_timestamps()
    {
        var name = Unique("GITHUB_TOKEN");
        var value = "ghp_" + Guid.NewGuid().ToString("N");
        var created = await fx.PostAsync(Secrets, new { name, value });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(name, created.Body.GetProperty("name").GetString());

        var list = await fx.GetAsync(Secrets);
        Assert.Equal(HttpStatusCode.OK, list.Status);
        var item = list.Body.EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
        Assert.Equal(["createdAt", "name", "updatedAt"], item.EnumerateObject().Select(p => p.Name).Order());

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var stored = await c.QuerySingleAsync<byte[]>("select ciphertext from control.secrets where name = @name", new { name });
        Assert.DoesNotContain(value, System.Text.Encoding.UTF8.GetString(stored), StringComparison.Ordinal);
        Assert.Equal(value, await DecryptFromDatabaseAsync(name));
    }

    [Fact]
    public async Task Should_replace_a_value()
    {
        var name = Unique("SLACK");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync(Secrets, new { name, value = "first" })).Status);
        var replaced = await fx.PutAsync($"{Secrets}/{name}", new { value = "second" });
        Assert.Equal(HttpStatusCode.OK, replaced.Status);
        Assert.Equal("second", await DecryptFromDatabaseAsync(name));
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PutAsync($"{Secrets}/NO_SUCH_SECRET", new { value = "x" })).Status);
    }

    [Fact]
    public async Task Should_answer_409_for_a_name_taken()
    {
        var name = Unique("DUP");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync(Secrets, new { name, value = "a" })).Status);
        var again = await fx.PostAsync(Secrets, new { name, value = "b" });
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("name", again.Body.GetProperty("field").GetString());
    }

    public static TheoryData<string, string, string> InvalidSecrets() => new()
    {
        { """{"value":"v"}""", "name", "required" },
        { """{"name":"has space","value":"v"}""", "name", "identifier" },
        { """{"name":"1ABC","value":"v"}""", "name", "identifier" },
        { """{"name":"event_author","value":"v"}""", "name", "template variable" },
        { $$"""{"name":"{{new string('A', 65)}}","value":"v"}""", "name", "at most 64" },
        { """{"name":"OK_NAME"}""", "value", "required" },
        { """{"name":"OK_NAME","value":""}""", "value", "required" },
        { $$"""{"name":"OK_NAME","value":"{{new string('v', 8193)}}"}""", "value", "at most 8192" },
        { """{"name":"OK_NAME","value":"unterminated""", "body", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(InvalidSecrets))]
    public async Task Should_answer_400_naming_the_field(string body, string field, string message)
    {
        var r = await fx.PostAsync(Secrets, body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_refuse_to_delete_a_secret_a_webhook_uses_naming_the_webhook()
    {
        var name = Unique("SIGNING");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync(Secrets, new { name, value = "whsec_abc" })).Status);
        var hook = "deploy " + Guid.NewGuid().ToString("N")[..6];
        var webhook = await fx.PostAsync("/v1/entities/acme/webhooks", new { name = hook, url = "https://hooks.example.com/x", secret = name });
        Assert.Equal(HttpStatusCode.Created, webhook.Status);

        var refused = await fx.DeleteAsync($"{Secrets}/{name}");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains(hook, refused.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal([hook], refused.Body.GetProperty("webhooks").EnumerateArray().Select(e => e.GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"/v1/entities/acme/webhooks/{webhook.Body.GetProperty("id").GetGuid()}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"{Secrets}/{name}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"{Secrets}/{name}")).Status);
    }

    [Fact]
    public async Task Should_never_show_a_value_in_a_response_or_a_log_line()
    {
        var name = Unique("LEAKCHECK");
        var value = "s3cr3t-" + Guid.NewGuid().ToString("N");
        var replacement = "r3pl4c3d-" + Guid.NewGuid().ToString("N");
        var responses = new List<string>
        {
            (await fx.PostAsync(Secrets, new { name, value })).Text,
            (await fx.PostAsync(Secrets, new { name, value })).Text, // 409
            (await fx.PostAsync(Secrets, $$"""{"name":"{{name}}","value":"{{value}}""")).Text, // malformed JSON
            (await fx.PostAsync(Secrets, new { name = "bad name", value })).Text, // 400
            (await fx.PutAsync($"{Secrets}/{name}", new { value = replacement })).Text,
            (await fx.PutAsync($"{Secrets}/NOT_THERE", new { value })).Text,
            (await fx.PostAsync(Secrets, new { name, value }, fx.MemberKey)).Text, // 403
            (await fx.GetAsync(Secrets)).Text,
        };
        var hook = await fx.PostAsync("/v1/entities/acme/webhooks", new { name = "leak " + name[^8..], url = "https://hooks.example.com/leak", secret = name, accessToken = name });
        responses.Add(hook.Text);
        responses.Add((await fx.GetAsync("/v1/entities/acme/webhooks")).Text);
        responses.Add((await fx.PostAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = "leak " + name[^8..],
            @event = new { type = "CREATE_ARTIFACT", collection = "c" },
            action = new { type = "webhook", webhook = "leak " + name[^8..], payload = $$"""{"token":"${{{name}}}"}""" },
        })).Text);
        responses.Add((await fx.GetAsync("/v1/entities/acme/projects/mnist/automations")).Text);
        responses.Add((await fx.DeleteAsync($"{Secrets}/{name}")).Text); // 409
        responses.Add((await fx.GetAsync("/openapi/v1.json")).Text);

        Assert.Equal(replacement, await DecryptFromDatabaseAsync(name)); // the calls really happened
        foreach (var text in responses)
        {
            Assert.DoesNotContain(value, text, StringComparison.Ordinal);
            Assert.DoesNotContain(replacement, text, StringComparison.Ordinal);
        }
        Assert.NotEmpty(fx.Logs.Lines);
        Assert.Contains(fx.Logs.Lines, l => l.Contains("/secrets", StringComparison.Ordinal)); // the requests were logged...
        Assert.DoesNotContain(fx.Logs.Lines, l => l.Contains(value, StringComparison.Ordinal)); // ...their values were not
        Assert.DoesNotContain(fx.Logs.Lines, l => l.Contains(replacement, StringComparison.Ordinal));
    }
}
