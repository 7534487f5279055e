using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.ProjectAutomations;
using Automations.Api.Keys;
using Automations.Api.Launch;
using Automations.Api.Members;
using Automations.Api.Secrets;
using Automations.Api.Webhooks;
using Automations.Api.QueueItems;
using Automations.Api.Runs;
using Automations.Api.Deliveries;
using Automations.Api.History;
using Automations.Api.Projects;
using Automations.Api.TeamConfig;
using Automations.Persistence.Inbox;
using Automations.Persistence.Retention;
using Automations.Persistence.Writes;
using Automations.Api.Alerts;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.Api;

public static class Extensions
{
    public const string Schema = "control";

    /// <summary>The audit trail by `at` (0007_audit.sql), kept as long as the history.</summary>
    public static readonly PartitionedTable AuditTable = new($"{Schema}.audit", "at", o => o.History);

    public static IHostApplicationBuilder AddApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton(MasterKeys.FromConfiguration(builder.Configuration, builder.Environment.IsDevelopment()));
        if (builder.Configuration.GetValue("Secrets:RotateOnStart", true))
            builder.Services.AddHostedService<RotateSecretsOnStart>();
        builder.AddAutomationsBus(x => x.AddConsumer<WebhookDisabledConsumer, WebhookDisabledConsumerDefinition>());
        builder.Services.AddWrites(Schema);
        // Also the Retention options the history endpoints state their reach from (HistoryReach).
        builder.Services.AddRetention(AuditTable, Inbox.Table(Schema));
        return builder;
    }

    public static WebApplication MapApi(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapEntityApi()
            .MapMembers()
            .MapKeys()
            .MapSecrets()
            .MapWebhooks()
            .MapIntegrations()
            .MapAlerts()
            .MapAutomations()
            .MapQueues()
            .MapJobs()
            .MapConfig()
            .MapAudit()
            .MapProjects();
        app.MapWhoAmI();
        app.MapRuns();
        app.MapDeliveries();
        app.MapQueueItems();
        return app;
    }
}
