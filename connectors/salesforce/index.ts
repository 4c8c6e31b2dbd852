import { limitsFrom } from '../common-settings.ts';
import { DeliveryError } from '../errors.ts';
import { defineConnectorType } from '../types.ts';
import { SalesforceAuth } from './client.ts';
import { deliverMany } from './deliver.ts';
import { previewRequests } from './preview.ts';
import { salesforceSettings } from './settings.ts';

/**
 * A qualified lead becomes a Salesforce Lead (or updates the Lead or Contact
 * with that email, following converted Leads to their Contact), with the chat
 * transcript as a completed Task on it. See README.md in this folder.
 */
export const salesforceConnector = defineConnectorType({
  type: 'salesforce',
  description: 'Create or update a Salesforce Lead or Contact, with the transcript as a completed Task',
  settings: salesforceSettings,
  create(name, settings, environment) {
    const auth = new SalesforceAuth(settings, environment.now);
    return {
      name,
      type: 'salesforce',
      limits: limitsFrom(settings, settings.batch_size),
      // The identity map (docs/identity.md): each delivery gets the records its person's
      // identifiers resolved to before, and its result names the record they resolve to now.
      remembers: true,
      preview: (context) => previewRequests(settings, auth, context),
      async deliver(context) {
        const [outcome] = await deliverMany(settings, auth, environment.now, [context]);
        if (outcome instanceof DeliveryError) throw outcome;
        return outcome!;
      },
      deliverBatch: (contexts) => deliverMany(settings, auth, environment.now, contexts),
    };
  },
});
