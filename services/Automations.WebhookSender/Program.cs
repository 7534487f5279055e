using Automations.ServiceDefaults;

namespace Automations.WebhookSender;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults("automations-webhook-sender");
        builder.AddWebhookSender();
        var app = builder.Build();
        app.MapWebhookSender();
        app.MapDefaultEndpoints();
        return app;
    }
}
