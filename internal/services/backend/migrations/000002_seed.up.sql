-- Seed data: deterministic, so every fresh database has the same ids and names, and idempotent
-- (ON CONFLICT DO NOTHING), so re-running it never duplicates or overwrites anything.

INSERT INTO industries (id, slug, name) VALUES
  (1, 'marketing', 'Marketing'),
  (2, 'education', 'Education'),
  (3, 'sales', 'Sales')
ON CONFLICT DO NOTHING;

-- The three demo customers. Their ids are documented in the README; `waooaw token mint` uses the first.
INSERT INTO customers (id, name, email, company, phone) VALUES
  ('11111111-1111-4111-8111-111111111111', 'Asha Rao', 'asha@acme.example', 'Acme Retail', '+91-80-5550-0101'),
  ('22222222-2222-4222-8222-222222222222', 'Ben Okafor', 'ben@brighttutors.example', 'Bright Tutors', '+91-80-5550-0102'),
  ('33333333-3333-4333-8333-333333333333', 'Chen Wei', 'chen@cobaltsales.example', 'Cobalt Sales', '+91-80-5550-0103')
ON CONFLICT DO NOTHING;

INSERT INTO agents (id, name, industry_id, specialty, status, rating, price_monthly)
SELECT s.id::uuid, s.name, i.id, s.specialty, s.status, s.rating, s.price
FROM (VALUES
  ('112ce31d-729a-51f6-b47b-08175182b313', 'Aria - Content Strategy', 'marketing', 'Content Strategy', 'available', 4.2, 20000),
  ('c5960228-4cd9-524c-bd58-f989a554e5ea', 'Blaze - Math Tutoring', 'education', 'Math Tutoring', 'available', 4.9, 32000),
  ('23647ff5-fcad-57ca-8cd6-8a00374dd8e1', 'Cleo - Lead Qualification', 'sales', 'Lead Qualification', 'offline', 4.0, 19000),
  ('e74cabd7-e5dd-521f-a438-2b5fcff96cc7', 'Dax - SEO Optimisation', 'marketing', 'SEO Optimisation', 'available', 4.7, 31000),
  ('6897ecd8-30a5-5294-aca6-d217da518b6b', 'Echo - Science Tutoring', 'education', 'Science Tutoring', 'available', 3.8, 18000),
  ('17c13825-db10-53dc-90ce-bb36b2ac3d12', 'Fern - Cold Outreach', 'sales', 'Cold Outreach', 'working', 4.5, 30000),
  ('60750f21-efd2-5a60-8afb-52e3b20d625c', 'Gale - Social Media Management', 'marketing', 'Social Media Management', 'available', 3.6, 17000),
  ('06e96cf3-20f0-51f8-8742-cdf3519f2d48', 'Halo - Language Coaching', 'education', 'Language Coaching', 'available', 4.3, 29000),
  ('a7733ac1-8830-56e1-8705-b669746e6a53', 'Iris - CRM Hygiene', 'sales', 'CRM Hygiene', 'working', 5.0, 16000),
  ('1c879a6b-d1a8-525c-b4ad-5f8f13916ace', 'Jett - Email Campaigns', 'marketing', 'Email Campaigns', 'available', 4.1, 28000),
  ('dda0cf35-a947-558c-bee6-b4e1df0aced3', 'Kai - Exam Preparation', 'education', 'Exam Preparation', 'available', 4.8, 15000),
  ('e16d078d-9ea1-53d7-9660-e5be0dd4bdda', 'Luna - Deal Forecasting', 'sales', 'Deal Forecasting', 'available', 3.9, 27000),
  ('1538238a-7959-506c-89d3-dd553818ceda', 'Milo - Paid Ads', 'marketing', 'Paid Ads', 'offline', 4.6, 14000),
  ('cd5c60bb-1774-52cf-b9f8-72b70f0b1c80', 'Nova - Coding Instruction', 'education', 'Coding Instruction', 'available', 3.7, 26000),
  ('787ea9f3-b742-51d5-a972-b4a522ec3b85', 'Orion - Proposal Writing', 'sales', 'Proposal Writing', 'available', 4.4, 13000),
  ('7efe547c-45c6-5e3e-b27f-0f066e6f45c5', 'Pax - Brand Storytelling', 'marketing', 'Brand Storytelling', 'working', 3.5, 25000),
  ('8521b6b1-683a-568a-91ab-4e23f34d1486', 'Quinn - Essay Feedback', 'education', 'Essay Feedback', 'available', 4.2, 12000),
  ('2212d6f0-a2a5-50b0-8d16-15160f1e40ac', 'Rhea - Account Research', 'sales', 'Account Research', 'available', 4.9, 24000),
  ('77b6d8ca-f26c-5cb1-9658-5c587e38837f', 'Sage - Influencer Outreach', 'marketing', 'Influencer Outreach', 'working', 4.0, 11000),
  ('ebc7d846-d215-57e5-9f1a-2677b546d577', 'Tara - Homework Help', 'education', 'Homework Help', 'available', 4.7, 23000),
  ('481ceadb-a4cc-5556-a787-01a3d3973168', 'Uma - Meeting Scheduling', 'sales', 'Meeting Scheduling', 'available', 3.8, 10000),
  ('0949a2f8-87b3-5978-8343-0873419959a8', 'Vega - Market Research', 'marketing', 'Market Research', 'available', 4.5, 22000),
  ('38f197be-a17a-57ed-9521-ba51719c6887', 'Wren - Curriculum Design', 'education', 'Curriculum Design', 'offline', 3.6, 9000),
  ('88cc9eaf-ebf3-5c29-8042-83c664f15371', 'Xena - Objection Handling', 'sales', 'Objection Handling', 'available', 4.3, 21000),
  ('66d9a8a5-9d19-5897-aacf-0c876078cf02', 'Yuri - Copywriting', 'marketing', 'Copywriting', 'available', 5.0, 8000),
  ('317b7cbe-1779-51bb-b9eb-8055d05705ee', 'Zara - Reading Support', 'education', 'Reading Support', 'working', 4.1, 20000),
  ('e7acb182-9325-5f5e-b131-eb9a59a9b5a8', 'Arlo - Pipeline Reporting', 'sales', 'Pipeline Reporting', 'available', 4.8, 32000),
  ('96d08885-9790-5080-a0e2-4b8ae3a89d1c', 'Bryn - Video Marketing', 'marketing', 'Video Marketing', 'available', 3.9, 19000),
  ('8c0ca4d1-80e0-5db4-be67-84b8436c3bf6', 'Cyra - History Tutoring', 'education', 'History Tutoring', 'working', 4.6, 31000),
  ('7469156d-c18d-5962-924c-c63818d5f9db', 'Dion - Renewals', 'sales', 'Renewals', 'available', 3.7, 18000),
  ('6c3bf20e-94f9-5254-9b8d-4a681f099b33', 'Elio - Analytics Reporting', 'marketing', 'Analytics Reporting', 'available', 4.4, 30000),
  ('4f0abc6d-10e6-590d-a77d-efd4470a05ed', 'Faye - Music Theory', 'education', 'Music Theory', 'available', 3.5, 17000),
  ('515c6826-5558-5da6-958d-16004b9f8566', 'Gray - Upselling', 'sales', 'Upselling', 'offline', 4.2, 29000),
  ('cc5965d1-9dd1-58d3-969b-d1af6f498e5c', 'Hugo - Community Management', 'marketing', 'Community Management', 'available', 4.9, 16000),
  ('e9bcead1-dafd-5508-a77f-f1a35d5bd0b1', 'Ines - Test Analytics', 'education', 'Test Analytics', 'available', 4.0, 28000),
  ('c394059c-5b7d-59da-b585-ab5447da7f96', 'Joss - Partner Sales', 'sales', 'Partner Sales', 'working', 4.7, 15000),
  ('db7c1563-90fe-548d-92f2-9158efd0330d', 'Kira - Product Launches', 'marketing', 'Product Launches', 'available', 3.8, 27000),
  ('cb0b4775-e33d-55e1-a5b2-1abca6711f4e', 'Leo - Study Planning', 'education', 'Study Planning', 'available', 4.5, 14000),
  ('d82694d9-c2ec-5a39-ba82-acf7f074f509', 'Mira - Sales Enablement', 'sales', 'Sales Enablement', 'working', 3.6, 26000),
  ('94af67ec-a3c1-59f2-ac2a-257e5b2cbc97', 'Nico - Local SEO', 'marketing', 'Local SEO', 'available', 4.3, 13000),
  ('a6e195dc-2b52-5535-9461-159221301fd2', 'Opal - Career Counselling', 'education', 'Career Counselling', 'available', 5.0, 25000),
  ('351a4699-236b-5a1d-ad8d-ca65d61c5e34', 'Pia - Inbound Follow-up', 'sales', 'Inbound Follow-up', 'available', 4.1, 12000),
  ('f18ef784-f783-5cac-9856-8805eeeaea6e', 'Rex - Conversion Optimisation', 'marketing', 'Conversion Optimisation', 'offline', 4.8, 24000),
  ('82d742c4-7da5-5104-bc35-f3c7bf481084', 'Sol - Physics Tutoring', 'education', 'Physics Tutoring', 'available', 3.9, 11000),
  ('5ce8aa9c-cdb2-50fe-ba74-82e0b5024cc5', 'Teo - Territory Planning', 'sales', 'Territory Planning', 'available', 4.6, 23000),
  ('bf485f3c-b4f3-5c26-83d5-a8fe27fa0d43', 'Vera - PR Outreach', 'marketing', 'PR Outreach', 'working', 3.7, 10000),
  ('151e2a38-cda6-56df-86e2-7a22a27ec58e', 'Wade - Chemistry Tutoring', 'education', 'Chemistry Tutoring', 'available', 4.4, 22000),
  ('363131ca-cac1-5635-a849-96933f002635', 'Yara - Quote Generation', 'sales', 'Quote Generation', 'available', 3.5, 9000),
  ('f494cc44-5061-5dcc-a4a2-4f4e1bde2e2d', 'Zeke - Marketing Automation', 'marketing', 'Marketing Automation', 'working', 4.2, 21000),
  ('d3adb26f-4dbe-5ce7-b0e9-eb6fc8e03af7', 'Ayla - Art Instruction', 'education', 'Art Instruction', 'available', 4.9, 8000)
) AS s(id, name, industry, specialty, status, rating, price)
JOIN industries i ON i.slug = s.industry
ON CONFLICT DO NOTHING;
