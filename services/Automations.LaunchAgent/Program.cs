using Automations.LaunchAgent.Api;
using Automations.LaunchAgent.Runs;

namespace Automations.LaunchAgent;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

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
                o.Queues = [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Guid.Parse)];
        });
        var agent = builder.Configuration.GetSection("Agent");
        var waitSeconds = agent.GetValue("WaitSeconds", 20);
        builder.Services.AddHttpClient<LaunchApiClient>(c =>
        {
            c.BaseAddress = new Uri(agent.GetValue("Api", "http://127.0.0.1:5084")!.TrimEnd('/') + "/");
            c.Timeout = TimeSpan.FromSeconds(waitSeconds + 30);
        });
        builder.Services.AddSingleton<ItemRunner>();
        builder.Services.AddHostedService<AgentWorker>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(agent.GetValue("ShutdownGraceSeconds", 30.0) + 15));
        return builder.Build();
    }
}
