using System.Net.Http.Headers;
using System.Text;
using Automations.Persistence;
using Npgsql;
using Xunit;

namespace Automations.Testing;

/// <summary>
/// One per test class (use as IClassFixture): its own PostgreSQL database, migrated, and its own RabbitMQ vhost,
/// both removed at the end, so test classes run in parallel and leave nothing bound to the message exchanges.
/// </summary>
public class TestEnvironment : IAsyncLifetime
{
    private static int _counter;

    public Infrastructure Infrastructure { get; private set; } = null!;
    public string Name { get; } = $"t{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}_{Guid.NewGuid().ToString("N")[..6]}";
    public string DatabaseName => Name;
    public string VirtualHost => Name;
    public string PostgresConnectionString { get; private set; } = "";
    /// <summary>amqp://user:pass@host:port/vhost for this class.</summary>
    public string RabbitMqConnectionString { get; private set; } = "";
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        Infrastructure = await Infrastructure.GetAsync();
        var admin = new NpgsqlConnectionStringBuilder(Infrastructure.Postgres) { Pooling = false };
        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database \"{DatabaseName}\"", connection);
            await cmd.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(Infrastructure.Postgres) { Database = DatabaseName, MaxPoolSize = 20 };
        PostgresConnectionString = builder.ConnectionString;
        await DatabaseMigrator.MigrateAsync(PostgresConnectionString);
        DataSource = NpgsqlDataSource.Create(PostgresConnectionString);

        using var http = ManagementClient();
        (await http.PutAsync($"api/vhosts/{VirtualHost}", new StringContent("{}", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var user = Uri.UnescapeDataString(Infrastructure.RabbitMq.UserInfo.Split(':')[0]);
        (await http.PutAsync($"api/permissions/{VirtualHost}/{Uri.EscapeDataString(user)}",
            new StringContent("""{"configure":".*","write":".*","read":".*"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var rb = new UriBuilder(Infrastructure.RabbitMq) { Path = "/" + VirtualHost };
        RabbitMqConnectionString = rb.Uri.ToString();
    }

    public virtual async Task DisposeAsync()
    {
        if (DataSource is not null) await DataSource.DisposeAsync();
        try
        {
            using var http = ManagementClient();
            await http.DeleteAsync($"api/vhosts/{VirtualHost}");
        }
        catch (HttpRequestException) { }
        try
        {
            var admin = new NpgsqlConnectionStringBuilder(Infrastructure.Postgres) { Pooling = false };
            await using var connection = new NpgsqlConnection(admin.ConnectionString);
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand($"drop database if exists \"{DatabaseName}\" with (force)", connection);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException) { }
    }

    public HttpClient ManagementClient()
    {
        var m = Infrastructure.RabbitMqManagement;
        var http = new HttpClient { BaseAddress = new Uri($"{m.Scheme}://{m.Host}:{m.Port}/"), Timeout = TimeSpan.FromSeconds(30) };
        var creds = Uri.UnescapeDataString(m.UserInfo);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(creds)));
        return http;
    }

    /// <summary>The master key tests encrypt team secrets with (never a production key).</summary>
    public const string TestMasterKeyId = "test1";
    public static readonly string TestMasterKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    /// <summary>Configuration every service host of this class gets.</summary>
    public virtual Dictionary<string, string?> ServiceConfiguration() => new()
    {
        ["ConnectionStrings:Postgres"] = PostgresConnectionString,
        ["ConnectionStrings:RabbitMq"] = RabbitMqConnectionString,
        ["Database:MigrateOnStart"] = "false",
        [$"Secrets:MasterKeys:{TestMasterKeyId}"] = TestMasterKey,
        ["Secrets:ActiveKeyId"] = TestMasterKeyId,
        // Tests' webhook receivers listen on loopback and are reached by the machine's name (LocalName): the allow-list lets
        // that name through the SSRF guard. It does not admit IP literals or localhost, which the URL rule always refuses.
        ["Webhooks:AllowedCidrs"] = "127.0.0.0/8,::1/128",
    };
}
