using Automations.Contracts;
using Automations.Core.Secrets;
using Automations.Core.Webhooks;
using Automations.Persistence.Inbox;
using Automations.Persistence.Retention;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using Automations.WebhookSender.Alerts;
using Automations.WebhookSender.Deliveries;
using Automations.WebhookSender.Sending;
using Automations.WebhookSender.WebhookTests;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Automations.WebhookSender;

public static class Extensions
{
    public const string Schema = "delivery";

    /// <summary>
    /// Deliveries by the time in their command's id (0005_partition_deliveries.sql): the command and the id are unique per
    /// partition, and a partition with a delivery still pending (retrying past History) is kept until it finishes.
    /// </summary>
    public static readonly PartitionedTable Deliveries = new($"{Schema}.deliveries", "command_at", o => o.History)
    {
        PartitionDdl = "create unique index on {partition} (command_id); create unique index on {partition} (id)",
        HeldWhile = "status = 'pending'",
    };

    /// <summary>Attempts carry their delivery's command_at, and go once no delivery is left in their range (after the deliveries' partition, in the same pass).</summary>
    public static readonly PartitionedTable Attempts = new($"{Schema}.attempts", "command_at", o => o.History)
    {
        HeldWhile = "exists (select from delivery.deliveries d where d.command_at >= {low} and d.command_at < {high})",
    };

    public static IHostApplicationBuilder AddWebhookSender(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<WebhookOptions>(builder.Configuration.GetSection("Webhooks"));
        builder.Services.Configure<AlertOptions>(builder.Configuration.GetSection("Alerts"));
        builder.Services.AddSingleton<AlertSettingsDirectory>();
        builder.Services.AddSingleton(_ => CipherFrom(builder.Configuration));
        builder.Services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        builder.Services.AddSingleton<WebhookClient>();
        builder.Services.AddSingleton<WebhookDirectory>();
        builder.Services.AddSingleton<DeliveryMetrics>();
        builder.Services.AddSingleton<DeliveryStore>();
        builder.Services.AddSingleton<DeliveryAttempts>();
        builder.Services.AddSingleton(sp =>
        {
            var dispatcher = ActivatorUtilities.CreateInstance<DeliveryDispatcher>(sp);
            sp.GetRequiredService<DeliveryMetrics>().ObserveHolds(() => dispatcher.Held, () => dispatcher.HeldPayloadBytes);
            return dispatcher;
        });
        builder.Services.AddSingleton<DeliveryScheduler>();
        // Stopped after the bus (hosted services stop in reverse order): no new work arrives while attempts drain.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeliveryDispatcher>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeliveryScheduler>());
        builder.AddAutomationsBus(x =>
        {
            x.AddConsumer<SendWebhookConsumer, SendWebhookConsumerDefinition>();
            x.AddConsumer<RedeliverWebhookConsumer, RedeliverWebhookConsumerDefinition>();
            x.AddConsumer<TestWebhookConsumer, TestWebhookConsumerDefinition>();
            x.AddConsumer<WebhookIncidentChangedConsumer, WebhookIncidentChangedConsumerDefinition>();
        });
        builder.Services.AddWrites(Schema, w => w.Batch<WebhookDeliveryCompleted, WebhookDeliveriesCompleted>(items => new WebhookDeliveriesCompleted(items)));
        builder.Services.AddRetention(Deliveries, Attempts, Inbox.Table(Schema));
        return builder;
    }

    /// <summary>Secrets:MasterKeys:&lt;id&gt; (base64 of 32 bytes) and Secrets:ActiveKeyId: the same keys the Api encrypts with.</summary>
    public static SecretCipher CipherFrom(IConfiguration configuration)
    {
        var keys = configuration.GetSection("Secrets:MasterKeys").GetChildren()
            .Where(c => !string.IsNullOrEmpty(c.Value))
            .ToDictionary(c => c.Key, c => c.Value!);
        var active = configuration["Secrets:ActiveKeyId"];
        if (keys.Count == 0 || string.IsNullOrEmpty(active))
            throw new InvalidOperationException("Secrets:MasterKeys:<id> and Secrets:ActiveKeyId must be set: the sender decrypts team secrets");
        return SecretCipher.FromBase64(keys, active);
    }
}
