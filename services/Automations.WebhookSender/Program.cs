using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.WebhookSender;

public static class Program
{
    public static Task Main(string[] args) => AutomationsService.RunAsync(Build(args));

    public static WebApplication Build(string[] args) => Build(args, _ => { });

    /// <param name="services">runs after the sender's own registrations: tests replace a service here (e.g. the resolver).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection> services) =>
        AutomationsService.Build(args, "automations-webhook-sender", b =>
        {
            b.AddMigrateOnStart();
            b.AddWebhookSender();
            services(b.Services);
        });
}
