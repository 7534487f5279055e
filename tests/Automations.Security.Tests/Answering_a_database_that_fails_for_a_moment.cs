using System.Net;
using Automations.ServiceDefaults;
using Automations.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace Automations.Security.Tests;

/// <summary>
/// A failure that passes by itself (PostgreSQL unreachable or restarting, a serialization failure or deadlock past a
/// store's own retries, a timeout) is answered 503 problem+json with Retry-After, which clients retry; any other
/// failure stays a 500. Neither answer carries the exception's message.
/// </summary>
[Trait("Category", "Security")]
public class Answering_a_database_that_fails_for_a_moment(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private Task<ServiceHost> StartAsync() => ServiceHost.StartAsync(
        args => AutomationsService.Build(args, "transient-test", _ => { }, app =>
        {
            // A real connection refused: nothing listens on port 1.
            app.MapGet("/unreachable", async () =>
            {
                await using var source = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Password=hunter2;Timeout=2");
                await using var connection = await source.OpenConnectionAsync();
                return Results.Ok();
            });
            app.MapGet("/serialization", () => Throw(new PostgresException("could not serialize access due to concurrent update hunter2", "ERROR", "ERROR", PostgresErrorCodes.SerializationFailure)));
            app.MapGet("/deadlock", () => Throw(new PostgresException("deadlock detected hunter2", "ERROR", "ERROR", PostgresErrorCodes.DeadlockDetected)));
            app.MapGet("/timeout", () => Throw(new TimeoutException("hunter2")));
            app.MapGet("/constraint", () => Throw(new PostgresException("violates check constraint hunter2", "ERROR", "ERROR", PostgresErrorCodes.CheckViolation)));
            app.MapGet("/bug", () => Throw(new InvalidOperationException("hunter2")));
        }),
        new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = env.PostgresConnectionString });

    private static IResult Throw(Exception e) => throw e;

    [Theory]
    [InlineData("/unreachable", HttpStatusCode.ServiceUnavailable)]
    [InlineData("/serialization", HttpStatusCode.ServiceUnavailable)]
    [InlineData("/deadlock", HttpStatusCode.ServiceUnavailable)]
    [InlineData("/timeout", HttpStatusCode.ServiceUnavailable)]
    [InlineData("/constraint", HttpStatusCode.InternalServerError)]
    [InlineData("/bug", HttpStatusCode.InternalServerError)]
    public async Task Should_answer_503_with_Retry_After_only_to_a_failure_that_passes(string path, HttpStatusCode expected)
    {
        await using var host = await StartAsync();
        using var answer = await host.Client.GetAsync(path);
        Assert.Equal(expected, answer.StatusCode);
        Assert.Equal(expected == HttpStatusCode.ServiceUnavailable ? TimeSpan.FromSeconds(1) : null, answer.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("hunter2", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
