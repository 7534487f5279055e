using System.Net;
using Automations.ServiceDefaults;
using Automations.ServiceDefaults.Http;
using Automations.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Automations.Security.Tests;

/// <summary>
/// Every HTTP service runs at most Http:MaxConcurrentRequests requests and queues at most Http:QueueLimit more; past
/// that it answers 503 problem+json with Retry-After, so a flood of requests cannot hold unbounded bodies in memory.
/// Health probes are never counted, and readiness does not wait behind a busy connection pool.
/// </summary>
[Trait("Category", "Security")]
public class Limiting_concurrent_requests(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task<ServiceHost> StartAsync(int maxPool = 20, int queueLimit = 0) => ServiceHost.StartAsync(
        args => AutomationsService.Build(args, "limits-test", _ => { }, app =>
        {
            app.MapGet("/slow", async () =>
            {
                _entered.TrySetResult();
                await _release.Task;
                return Results.Ok();
            });
            app.MapGet("/fast", () => Results.Ok());
            // As the agents' long-poll claim: never counted.
            app.MapGet("/unlimited", () => Results.Ok()).DisableRateLimiting();
        }),
        new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(env.PostgresConnectionString) { MaxPoolSize = maxPool }.ConnectionString,
            ["Http:MaxConcurrentRequests"] = "1",
            ["Http:QueueLimit"] = queueLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Http:RetryAfterSeconds"] = "2",
        });

    [Fact]
    public async Task Should_answer_503_with_Retry_After_past_the_limit_and_keep_answering_health_probes()
    {
        await using var host = await StartAsync();
        var first = host.Client.GetAsync("/slow");
        await _entered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using var refused = await host.Client.GetAsync("/slow");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        using (var ready = await host.Client.GetAsync("/health/ready")) Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using (var live = await host.Client.GetAsync("/health/live")) Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using (var unlimited = await host.Client.GetAsync("/unlimited")) Assert.Equal(HttpStatusCode.OK, unlimited.StatusCode);

        _release.SetResult();
        using (var done = await first) Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        using var after = await host.Client.GetAsync("/slow");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Should_run_a_queued_request_once_the_running_one_ends()
    {
        await using var host = await StartAsync(queueLimit: 1);
        var first = host.Client.GetAsync("/slow");
        await _entered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var queued = host.Client.GetAsync("/fast");
        var limiter = host.Services.GetRequiredService<HttpLimits.RequestLimiter>().Limiter;
        for (var i = 0; i < 3000 && limiter.GetStatistics()!.CurrentQueuedCount < 1; i++) await Task.Delay(10);
        Assert.Equal(1, limiter.GetStatistics()!.CurrentQueuedCount);
        using (var refused = await host.Client.GetAsync("/fast")) Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.False(queued.IsCompleted);

        _release.SetResult();
        using (var done = await first) Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        using (var ran = await queued.WaitAsync(TimeSpan.FromSeconds(30))) Assert.Equal(HttpStatusCode.OK, ran.StatusCode);
    }

    [Fact]
    public async Task Should_stay_ready_while_every_pooled_connection_is_busy()
    {
        // A backlog keeps every connection of the service's pool at work; readiness must not wait for one of them
        // (the pool's 15 s timeout, against a probe's 1 s) and report a working replica as not ready.
        await using var host = await StartAsync(maxPool: 2);
        var pool = host.Services.GetRequiredService<NpgsqlDataSource>();
        await using var a = await pool.OpenConnectionAsync();
        await using var b = await pool.OpenConnectionAsync();

        for (var i = 0; i < 3; i++)
        {
            using var ready = await host.Client.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
    }
}
