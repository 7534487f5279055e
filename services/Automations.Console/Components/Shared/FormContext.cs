using Automations.Console.Session;
using Microsoft.AspNetCore.Components.Forms;

namespace Automations.Console.Components.Shared;

/// <summary>
/// An EditContext carrying the errors a redirect brought back (by field id), so the framework's inputs mark themselves
/// (aria-invalid, the "invalid" class) on the fields the errors are about.
/// </summary>
public static class FormContext
{
    public static EditContext For(object model, FlashMessage? flash, params (string FieldId, string Property)[] fields)
    {
        var context = new EditContext(model);
        if (flash?.Errors is not { Count: > 0 } errors) return context;
        var store = new ValidationMessageStore(context);
        foreach (var (id, property) in fields)
            if (errors.TryGetValue(id, out var message)) store.Add(context.Field(property), message);
        return context;
    }
}
