using Automations.LaunchAgent.Api;
using Automations.LaunchAgent.Runs;
using Microsoft.Extensions.Options;

namespace Automations.LaunchAgent;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            await Build(args).RunAsync();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("Launch agent not started: " + string.Join(" ", ex.Failures));
            return 2;
        }
    }

    /// <summary>The agent host (a worker, no HTTP server). Config: Agent:Api, Agent:Key, Agent:Queues, Agent:Concurrency, Agent:WorkDir.</summary>
    public static IHost Build(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
        builder.Services.AddOptions<AgentOptions>().Bind(builder.Configuration.GetSection("Agent")).PostConfigure(o =>
        {
            // Also accept a comma-separated list: --Agent:Queues=<id>,<id> or AGENT__QUEUES.
            if (builder.Configuration["Agent:Queues"] is { Length: > 0 } list)
            {
                var parts = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                o.Queues = [.. parts.Select(p => Guid.TryParse(p, out var id) ? id : Guid.Empty)];
            }
        })
            .Validate(o => !o.Queues.Contains(Guid.Empty), "Agent:Queues holds something that is not a queue id (a GUID).")
            .Validate(o => o.Queues.Count > 0, "Agent:Queues names no queue id (--Agent:Queues=<id>,<id>).")
            .Validate(o => !string.IsNullOrWhiteSpace(o.Key), "Agent:Key is not set (an API key with the queues:agent scope).")
            .Validate(o => Uri.TryCreate(o.Api, UriKind.Absolute, out _), "Agent:Api is not an absolute URL.")
            .Validate(o => o.Concurrency >= 1 && o.HeartbeatSeconds > 0, "Agent:Concurrency must be at least 1 and Agent:HeartbeatSeconds above 0.")
            .Validate(o => o.ReportTimeoutSeconds > 0 && o.ReportRetrySeconds >= 0, "Agent:ReportTimeoutSeconds must be above 0 and Agent:ReportRetrySeconds not negative.")
            .ValidateOnStart();
        var agent = builder.Configuration.GetSection("Agent");
        var waitSeconds = agent.GetValue("WaitSeconds", 20);
        builder.Services.AddHttpClient<LaunchApiClient>(c =>
        {
            c.BaseAddress = new Uri(agent.GetValue("Api", "http://127.0.0.1:5084")!.TrimEnd('/') + "/");
            c.Timeout = TimeSpan.FromSeconds(waitSeconds + 30);
        })
        // The client lives as long as the worker (a singleton holds it): recycle connections so DNS changes are seen.
        .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) });
        builder.Services.AddSingleton<ItemRunner>();
        builder.Services.AddHostedService<AgentWorker>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(agent.GetValue("ShutdownGraceSeconds", 30.0) + 15));
        return builder.Build();
    }
}
