using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A deployment with webhooks and integrations upgrades to automations as code (control 0006): every row keeps working,
/// without a URL secret; the new column takes only an integration's, and forgetting the secret keeps the integration.
/// </summary>
public class Migrating_to_integration_url_secrets() : OldLayoutDatabase("urlsecret_layout")
{
    [Fact]
    public async Task Should_keep_existing_webhooks_and_integrations_without_a_url_secret()
    {
        await MigrateUpToAsync("control", s => s.Name.StartsWith("_common.", StringComparison.Ordinal) || string.CompareOrdinal(s.Name, "0006_") < 0);
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await db.ExecuteAsync("""
            insert into control.entities (id, name) values ('00000000-0000-0000-0000-00000000000a', 'acme');
            insert into control.secrets (id, entity_id, name, key_id, nonce, ciphertext, tag)
            values ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-00000000000a', 'SLACK_URL', 'k1', '\x00', '\x00', '\x00');
            insert into control.webhooks (id, entity_id, name, url) values ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-00000000000a', 'gh', 'https://api.github.com/x');
            insert into control.webhooks (id, entity_id, name, url, kind, url_key_id, url_nonce, url_ciphertext, url_tag)
            values ('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-00000000000a', 'alerts', 'https://hooks.slack.com/********abcd', 'slack', 'k1', '\x00', '\x01', '\x00');
            """);

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);

        Assert.Equal(["alerts slack -", "gh generic -"], (await db.QueryAsync<string>(
            "select name || ' ' || kind || ' ' || coalesce(url_secret_id::text, '-') from control.webhooks order by name")).ToArray());
        // Only an integration's URL comes from a secret.
        var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync(
            "update control.webhooks set url_secret_id = '00000000-0000-0000-0000-0000000000d1' where name = 'gh'"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, refused.SqlState);
        await db.ExecuteAsync("update control.webhooks set url_secret_id = '00000000-0000-0000-0000-0000000000d1' where name = 'alerts'");
        // Deleting the secret forgets where the URL came from; the integration keeps its own encrypted copy.
        await db.ExecuteAsync("delete from control.secrets");
        var (kind, urlSecretId, ciphertext) = await db.QuerySingleAsync<(string, Guid?, byte[])>(
            "select kind, url_secret_id, url_ciphertext from control.webhooks where name = 'alerts'");
        Assert.Equal(("slack", (Guid?)null), (kind, urlSecretId));
        Assert.Equal(new byte[] { 1 }, ciphertext);
    }
}
