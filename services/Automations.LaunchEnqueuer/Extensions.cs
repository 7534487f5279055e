using Automations.LaunchEnqueuer.Agent;
using Automations.LaunchEnqueuer.Enqueue;
using Automations.LaunchEnqueuer.Leases;
using Automations.Persistence.Control;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.LaunchEnqueuer;

public static class Extensions
{
    public const string Schema = "launch";

    public static IHostApplicationBuilder AddLaunchEnqueuer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddMemoryCache();
        builder.Services.AddApiKeyCache();
        builder.Services.Configure<LaunchOptions>(builder.Configuration.GetSection("Launch"));
        builder.Services.AddSingleton<LaunchMetrics>();
        builder.Services.AddSingleton<QueueItemStore>();
        builder.Services.AddSingleton<QueueSignals>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QueueSignals>());
        builder.Services.AddHostedService<LeaseSweeper>();
        builder.AddAutomationsBus(x => x.AddConsumer<EnqueueLaunchJobConsumer, EnqueueLaunchJobConsumerDefinition>());
        builder.Services.AddWrites(Schema);
        return builder;
    }
}
