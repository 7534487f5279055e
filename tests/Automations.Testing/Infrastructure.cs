using DotNet.Testcontainers.Containers;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace Automations.Testing;

/// <summary>
/// The broker and database every integration test uses: the ones named by AUTOMATIONS_TEST_POSTGRES,
/// AUTOMATIONS_TEST_RABBITMQ and AUTOMATIONS_TEST_RABBITMQ_MANAGEMENT when set (what deploy/local/test.sh and .ci/run do),
/// else containers started once per test process by Testcontainers (a developer laptop with Docker).
/// </summary>
public sealed class Infrastructure
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Infrastructure? _instance;
    private static readonly List<IContainer> Containers = [];

    /// <summary>Npgsql connection string to a database the tests may create databases from.</summary>
    public required string Postgres { get; init; }
    /// <summary>amqp://user:pass@host:port/ (the default vhost; tests create their own).</summary>
    public required Uri RabbitMq { get; init; }
    /// <summary>http://user:pass@host:15672/ (the management API, used to create and delete vhosts).</summary>
    public required Uri RabbitMqManagement { get; init; }

    public static async Task<Infrastructure> GetAsync()
    {
        if (_instance is not null) return _instance;
        await Gate.WaitAsync();
        try
        {
            return _instance ??= await CreateAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<Infrastructure> CreateAsync()
    {
        var pg = Environment.GetEnvironmentVariable("AUTOMATIONS_TEST_POSTGRES");
        var rmq = Environment.GetEnvironmentVariable("AUTOMATIONS_TEST_RABBITMQ");
        var mgmt = Environment.GetEnvironmentVariable("AUTOMATIONS_TEST_RABBITMQ_MANAGEMENT");
        if (!string.IsNullOrEmpty(pg) && !string.IsNullOrEmpty(rmq))
        {
            var r = new Uri(rmq);
            return new Infrastructure
            {
                Postgres = pg,
                RabbitMq = r,
                RabbitMqManagement = new Uri(string.IsNullOrEmpty(mgmt) ? $"http://{r.UserInfo}@{r.Host}:15672/" : mgmt),
            };
        }

        // No environment: start containers (needs a Docker engine; Build() throws DockerUnavailableException otherwise).
        var postgres = new PostgreSqlBuilder("postgres:15").Build();
        var rabbit = new RabbitMqBuilder("rabbitmq:3.13-management").WithPortBinding(15672, true).Build();
        await Task.WhenAll(postgres.StartAsync(), rabbit.StartAsync());
        Containers.Add(postgres);
        Containers.Add(rabbit);
        var amqp = new Uri(rabbit.GetConnectionString());
        return new Infrastructure
        {
            Postgres = postgres.GetConnectionString() + ";SSL Mode=Disable",
            RabbitMq = amqp,
            RabbitMqManagement = new Uri($"http://{amqp.UserInfo}@{rabbit.Hostname}:{rabbit.GetMappedPublicPort(15672)}/"),
        };
    }
}
