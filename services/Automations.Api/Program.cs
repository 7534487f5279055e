using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.Api;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && Commands.IsCommand(args[0]))
            return await Commands.RunAsync(args);
        await AutomationsService.RunAsync(Build(args));
        return 0;
    }

    public static WebApplication Build(string[] args) => AutomationsService.Build(args, "automations-api", b => { b.AddMigrateOnStart(); b.AddApi(); }, app => app.MapApi());
}
